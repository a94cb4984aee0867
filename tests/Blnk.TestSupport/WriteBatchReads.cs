using Blnk.Core.Balances;
using Blnk.Storage;

namespace Blnk.TestSupport;

/// <summary>
/// One part of <see cref="IWriteBatch.ReadAsync"/> at a time, for storage tests that check each read on its own
/// (the writer asks for all of them at once).
/// </summary>
public static class WriteBatchReads
{
    public static async Task<Dictionary<string, Balance>> LockBalancesAsync(this IWriteBatch batch,
        IReadOnlyCollection<string> balanceIds, CancellationToken cancellationToken) =>
        (await batch.ReadAsync(Request(balanceIds: balanceIds), cancellationToken)).Balances;

    public static async Task<HashSet<string>> FindExistingReferencesAsync(this IWriteBatch batch,
        IReadOnlyCollection<string> references, CancellationToken cancellationToken) =>
        (await batch.ReadAsync(Request(references: references), cancellationToken)).ExistingReferences;

    public static async Task<HashSet<string>> TakeQueueEntriesAsync(this IWriteBatch batch,
        IReadOnlyCollection<string> transactionIds, CancellationToken cancellationToken) =>
        (await batch.ReadAsync(Request(queueEntryIds: transactionIds), cancellationToken)).TakenQueueEntries;

    public static async Task<HashSet<string>> TakeInflightActionsAsync(this IWriteBatch batch,
        IReadOnlyCollection<string> actionIds, CancellationToken cancellationToken) =>
        (await batch.ReadAsync(Request(actionIds: actionIds), cancellationToken)).TakenInflightActions;

    public static async Task<HashSet<long>> TakeLineageWorkAsync(this IWriteBatch batch,
        IReadOnlyCollection<long> seqs, DateTime now, CancellationToken cancellationToken) =>
        (await batch.ReadAsync(Request(lineageSeqs: seqs, now: now), cancellationToken)).TakenLineageWork;

    private static BatchReadRequest Request(IReadOnlyCollection<string>? balanceIds = null,
        IReadOnlyCollection<string>? references = null, IReadOnlyCollection<string>? queueEntryIds = null,
        IReadOnlyCollection<string>? actionIds = null, IReadOnlyCollection<long>? lineageSeqs = null,
        DateTime? now = null) =>
        new(balanceIds ?? [], [], references ?? [], queueEntryIds ?? [], actionIds ?? [], lineageSeqs ?? [],
            now ?? DateTime.UtcNow);
}
