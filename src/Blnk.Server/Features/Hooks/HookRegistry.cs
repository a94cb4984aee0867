using Blnk.Core.Hooks;
using Blnk.Storage;

namespace Blnk.Server.Features.Hooks;

/// <summary>The active transaction hooks, for the writer to record hook calls with each applied transaction.</summary>
public sealed class HookRegistry(ILedgerStore store, ILogger<HookRegistry> logger) : ReloadingRegistry(logger)
{
    private volatile IReadOnlyList<Hook> _active = [];

    /// <summary>Active hooks of the given type, oldest first.</summary>
    public IEnumerable<Hook> Active(string type) => _active.Where(hook => hook.Type == type);

    /// <summary>True when any hook is active: the writer's cheap check before building hook calls.</summary>
    public bool Any => _active.Count > 0;

    public override async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var hooks = await store.ListHooksAsync(null, cancellationToken);
        _active = [.. hooks.Where(hook => hook.Active)];
    }
}
