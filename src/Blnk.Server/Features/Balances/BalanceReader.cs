using Blnk.Core.Balances;
using Blnk.Storage;

namespace Blnk.Server.Features.Balances;

/// <summary>
/// Serves <c>GET /balances/{id}</c> reads in batches (see <see cref="BatchingReader{TRead, TAnswer}"/>): the reads
/// waiting at a moment become one <c>balance_id = ANY(…)</c> query on PostgreSQL.
/// </summary>
public sealed class BalanceReader(ILedgerStore store, ILogger<BalanceReader> logger)
    : BatchingReader<string, Balance?>(store.Dialect != "sqlite", logger)
{
    public Task<Balance?> GetAsync(string balanceId, CancellationToken cancellationToken) =>
        ReadAsync(balanceId, cancellationToken);

    protected override async Task<IReadOnlyList<Balance?>> ReadBatchAsync(IReadOnlyList<string> reads,
        CancellationToken cancellationToken)
    {
        var found = await store.GetBalancesAsync(reads.ToHashSet(StringComparer.Ordinal), cancellationToken);
        return [.. reads.Select(balanceId => found.GetValueOrDefault(balanceId))];
    }
}
