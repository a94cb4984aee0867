using System.Collections.Concurrent;
using Blnk.Storage;

namespace Blnk.Server.Features.Balances;

/// <summary>
/// <c>@indicator</c> balances of the General Ledger by (indicator, currency), created on first use (race-safe in
/// storage) and cached: the mapping never changes once created.
/// </summary>
public sealed class IndicatorBalances(ILedgerStore store, IdGenerator ids)
{
    private readonly ConcurrentDictionary<(string Indicator, string Currency), string> _balanceIds = new();

    /// <summary>The balance id when this process has already resolved the indicator.</summary>
    public string? Known(string indicator, string currency) => _balanceIds.GetValueOrDefault((indicator, currency));

    /// <summary>The balance id of the indicator, creating the balance if it does not exist.</summary>
    public async Task<string> EnsureAsync(string indicator, string currency, DateTime now,
        CancellationToken cancellationToken)
    {
        if (Known(indicator, currency) is { } known)
        {
            return known;
        }
        var balanceId = await store.EnsureIndicatorBalanceAsync(indicator, currency, ids.New(IdGenerator.BalancePrefix),
            now, cancellationToken);
        _balanceIds[(indicator, currency)] = balanceId;
        return balanceId;
    }
}
