using Blnk.Core.Monitors;
using Blnk.Storage;

namespace Blnk.Server.Features.Monitors;

/// <summary>Every balance monitor by balance, for the writer's evaluation after each change.</summary>
public sealed class MonitorRegistry(ILedgerStore store, ILogger<MonitorRegistry> logger) : ReloadingRegistry(logger)
{
    private volatile Dictionary<string, IReadOnlyList<BalanceMonitor>> _byBalance = new(StringComparer.Ordinal);

    public IReadOnlyList<BalanceMonitor> ForBalance(string balanceId) =>
        _byBalance.TryGetValue(balanceId, out var monitors) ? monitors : [];

    protected override async Task LoadAsync(CancellationToken cancellationToken)
    {
        var monitors = await store.ListMonitorsAsync(null, cancellationToken);
        _byBalance = monitors.GroupBy(monitor => monitor.BalanceId, StringComparer.Ordinal)
            .ToDictionary(group => group.Key, group => (IReadOnlyList<BalanceMonitor>)[.. group],
                StringComparer.Ordinal);
    }
}
