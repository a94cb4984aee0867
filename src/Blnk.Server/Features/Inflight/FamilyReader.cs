using Blnk.Core.Transactions;
using Blnk.Storage;

namespace Blnk.Server.Features.Inflight;

/// <summary>
/// Finds the rows an inflight commit or void, or a refund, acts on (<see cref="ILedgerStore.FindFamilyAsync"/>)
/// in batches (see <see cref="BatchingReader{TRead, TAnswer}"/>): on PostgreSQL the lookups waiting at a moment
/// become one statement per status set. Under hold-then-commit load each lookup was a statement of its own on the
/// lookup pool, whose per-statement overhead cost far more than the ~20 µs of executing it.
/// </summary>
public sealed class FamilyReader(ILedgerStore store, ILogger<FamilyReader> logger)
    : BatchingReader<FamilyLookup, IReadOnlyList<TransactionRecord>>(store.Dialect != "sqlite", logger)
{
    public Task<IReadOnlyList<TransactionRecord>> FindAsync(string transactionId,
        IReadOnlyCollection<string> statuses, CancellationToken cancellationToken) =>
        ReadAsync(new FamilyLookup(transactionId, statuses), cancellationToken);

    /// <remarks>
    /// One statement per status set, run side by side. The sets are few (commits look for INFLIGHT rows, and
    /// QUEUED ones while a queued hold is pending; refunds for APPLIED and VOID), so under load nearly every batch
    /// is one statement.
    /// </remarks>
    protected override async Task<IReadOnlyList<IReadOnlyList<TransactionRecord>>> ReadBatchAsync(
        IReadOnlyList<FamilyLookup> reads, CancellationToken cancellationToken)
    {
        var bySameStatuses = reads.GroupBy(lookup => lookup.StatusesKey, StringComparer.Ordinal);
        var found = await Task.WhenAll(bySameStatuses.Select(async group => (Statuses: group.Key,
            Families: await store.FindFamiliesAsync([.. group.Select(lookup => lookup.TransactionId)],
                group.First().Statuses, cancellationToken))));
        var familiesByStatuses = found.ToDictionary(result => result.Statuses, result => result.Families,
            StringComparer.Ordinal);
        return [.. reads.Select(lookup => familiesByStatuses[lookup.StatusesKey][lookup.TransactionId])];
    }
}

/// <summary>One request's lookup: the rows under <paramref name="TransactionId"/> with one of the statuses.</summary>
public sealed record FamilyLookup(string TransactionId, IReadOnlyCollection<string> Statuses)
{
    /// <summary>Lookups with the same statuses share a statement.</summary>
    public string StatusesKey { get; } = string.Join(',', Statuses);
}
