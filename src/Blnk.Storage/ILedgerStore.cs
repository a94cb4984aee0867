using Blnk.Core.Balances;
using Blnk.Core.Identities;
using Blnk.Core.Ledgers;
using Blnk.Core.Transactions;

namespace Blnk.Storage;

/// <summary>How a balance insert ended: the database decides uniqueness and references.</summary>
public enum BalanceInsertOutcome
{
    Inserted,
    DuplicateIndicator,

    /// <summary>The ledger or the identity does not exist (Blnk answers both with "Invalid ledger ID").</summary>
    UnknownLedgerOrIdentity,
}

/// <summary>Sums of the precise amounts of QUEUED transactions not yet applied, for one balance (scheduled ones excluded).</summary>
public readonly record struct QueuedAmounts(System.Numerics.BigInteger Debit, System.Numerics.BigInteger Credit);

/// <summary>
/// A queued or scheduled transaction waiting to be applied no earlier than <see cref="AvailableAt"/>. An
/// atomic group is one entry (keyed by its first leg) with <see cref="GroupId"/> = the legs' parent_transaction.
/// With <see cref="LeasedUntil"/> it is stored already leased to this store's owner until then: the process that
/// accepted it applies it itself, and no claim takes it unless that process is gone or the lease runs out.
/// </summary>
public readonly record struct QueueEntry(string TransactionId, DateTime AvailableAt, string? GroupId = null,
    DateTime? LeasedUntil = null);

/// <summary>How much of an inflight hold is committed, and whether it is voided.</summary>
public readonly record struct HoldProgress(System.Numerics.BigInteger Committed, bool Voided);

/// <summary>Where a pending inflight action came from; one pending action per hold and origin.</summary>
public enum InflightActionOrigin
{
    Request,
    Expiry,
    ScheduledCommit,
}

/// <summary>
/// A commit or void of an inflight row to run no earlier than <see cref="AvailableAt"/>; a null
/// <see cref="PreciseAmount"/> commits everything remaining.
/// </summary>
public sealed record InflightActionEntry(string ActionId, string TransactionId, bool Commit,
    System.Numerics.BigInteger? PreciseAmount, InflightActionOrigin Origin, DateTime AvailableAt);

/// <summary>A leased queue entry and the QUEUED rows it stands for (several for an atomic group), in order.</summary>
public sealed record ClaimedQueueEntry(string EntryId, IReadOnlyList<TransactionRecord> Rows);

/// <summary>
/// The one storage port. Two implementations (SQLite, PostgreSQL) pass the same conformance suite.
/// Reads go straight to the database; every change to money goes through <see cref="BeginWriteBatchAsync"/>.
/// </summary>
public partial interface ILedgerStore : IAsyncDisposable
{
    /// <summary>"sqlite" or "postgres".</summary>
    string Dialect { get; }

    Task MigrateAsync(CancellationToken cancellationToken);

    Task<bool> PingAsync(CancellationToken cancellationToken);

    /// <summary>Inserts a ledger; <paramref name="events"/> are recorded in the same database transaction.</summary>
    Task InsertLedgerAsync(Ledger ledger, CancellationToken cancellationToken, IReadOnlyList<OutboxEvent>? events = null);

    Task<Ledger?> GetLedgerAsync(string ledgerId, CancellationToken cancellationToken);

    Task<IReadOnlyList<Ledger>> ListLedgersAsync(int limit, int offset, CancellationToken cancellationToken);

    Task<bool> RenameLedgerAsync(string ledgerId, string name, CancellationToken cancellationToken,
        IReadOnlyList<OutboxEvent>? events = null);

    Task<BalanceInsertOutcome> InsertBalanceAsync(Balance balance, CancellationToken cancellationToken,
        IReadOnlyList<OutboxEvent>? events = null);

    Task<Balance?> GetBalanceAsync(string balanceId, CancellationToken cancellationToken);

    /// <summary>The balances that exist among <paramref name="balanceIds"/>, by id, in one query.</summary>
    Task<Dictionary<string, Balance>> GetBalancesAsync(IReadOnlyCollection<string> balanceIds,
        CancellationToken cancellationToken);

    Task<Balance?> GetBalanceByIndicatorAsync(string indicator, string currency, CancellationToken cancellationToken);

    Task<IReadOnlyList<Balance>> ListBalancesAsync(int limit, int offset, CancellationToken cancellationToken);

    /// <summary>The id of the General Ledger balance for (indicator, currency), created if missing; race-safe.</summary>
    Task<string> EnsureIndicatorBalanceAsync(string indicator, string currency, string newBalanceId, DateTime now,
        CancellationToken cancellationToken);

    Task<Identity?> GetIdentityAsync(string identityId, CancellationToken cancellationToken);

    Task<QueuedAmounts> GetQueuedAmountsAsync(string balanceId, CancellationToken cancellationToken);

    Task<TransactionRecord?> GetTransactionAsync(string transactionId, CancellationToken cancellationToken);

    Task<TransactionRecord?> GetTransactionByReferenceAsync(string reference, CancellationToken cancellationToken);

    Task<IReadOnlyList<TransactionRecord>> ListTransactionsAsync(int limit, int offset,
        CancellationToken cancellationToken);

    /// <summary>
    /// Leases up to <paramref name="max"/> due queue entries (oldest first) so that no other process
    /// picks them until <paramref name="leaseUntil"/>, and returns them with their rows in queue order.
    /// </summary>
    Task<IReadOnlyList<ClaimedQueueEntry>> ClaimQueuedAsync(int max, DateTime now, DateTime leaseUntil,
        CancellationToken cancellationToken);

    /// <summary>Opens one database transaction for a batch of balance changes.</summary>
    Task<IWriteBatch> BeginWriteBatchAsync(CancellationToken cancellationToken);

    /// <summary>
    /// True when a failed batch may simply be run again: a deadlock, a serialization failure, or a
    /// reference that another process inserted after this batch checked for it.
    /// </summary>
    bool IsRetryableConflict(Exception exception);

    /// <summary>
    /// True when the database turned work away because it is saturated, not because the work was wrong: no pooled
    /// connection came free in time, or the server refused another connection (PostgreSQL), or the database stayed
    /// locked past the busy timeout (SQLite). The caller should retry shortly.
    /// </summary>
    bool IsAtCapacity(Exception exception);
}

/// <summary>
/// One database transaction of the batching writer. Balances are locked (PostgreSQL: row locks in
/// id order, by <see cref="ReadAsync"/>, or by <see cref="UpdateBalancesAsync"/> for a batch that decided from
/// remembered balances; SQLite: the database write lock), changes are buffered, and nothing is visible to
/// anyone until <see cref="CommitAsync"/> returns.
/// </summary>
/// <remarks>
/// A write may be sent with the next read or with the commit (PostgreSQL), so its failure can surface there; any
/// failure leaves nothing of the batch committed.
/// </remarks>
public interface IWriteBatch : IAsyncDisposable
{
    /// <summary>Everything a batch reads before deciding, in one round trip where the database allows it.</summary>
    Task<BatchReads> ReadAsync(BatchReadRequest request, CancellationToken cancellationToken);

    Task InsertTransactionsAsync(IReadOnlyList<TransactionRecord> rows, CancellationToken cancellationToken);

    Task EnqueueAsync(IReadOnlyList<QueueEntry> entries, CancellationToken cancellationToken);

    /// <summary>Stores inflight actions to run at their time (expiries, scheduled commits).</summary>
    Task ScheduleInflightActionsAsync(IReadOnlyList<InflightActionEntry> actions, CancellationToken cancellationToken);

    /// <summary>
    /// Writes each balance, provided its stored row is still as the batch read it (same <c>version</c> and
    /// identity); otherwise the batch fails with <see cref="StaleBalanceException"/> and nothing of it commits.
    /// </summary>
    Task UpdateBalancesAsync(IReadOnlyCollection<BalanceWrite> writes, CancellationToken cancellationToken);

    /// <summary>Records webhook, callback and hook deliveries with the changes they report.</summary>
    Task AppendOutboxAsync(IReadOnlyList<OutboxEvent> events, DateTime now, CancellationToken cancellationToken);

    /// <summary>Records fund-lineage work with the transfers that cause it.</summary>
    Task AppendLineageWorkAsync(IReadOnlyList<LineageWork> work, DateTime now, CancellationToken cancellationToken);

    /// <summary>Writes what settling lineage work records besides transactions: mappings, fund allocations.</summary>
    Task SettleLineageAsync(IReadOnlyList<LineageSettlement> settlements, CancellationToken cancellationToken);

    Task CommitAsync(CancellationToken cancellationToken);
}

/// <summary>
/// A balance's new state, and the version the batch decided it from: the stored row must still have that version
/// and the new state's identity for the write to apply.
/// </summary>
public sealed record BalanceWrite(Balance Balance, long ReadVersion);

/// <summary>
/// A balance row changed after the batch read it (another process wrote it, or its identity changed), or is
/// missing. The batch was rolled back; its decisions were made on a state that no longer holds.
/// </summary>
public sealed class StaleBalanceException(string message) : Exception(message);

/// <summary>
/// What a writer batch reads, under its locks: see <see cref="IWriteBatch.ReadAsync"/>. The balances locked are
/// <see cref="BalanceIds"/> and the sources and destinations of the holds <see cref="HoldIds"/> names, found by the
/// same read.
/// </summary>
public sealed record BatchReadRequest(
    IReadOnlyCollection<string> BalanceIds,
    IReadOnlyCollection<string> HoldIds,
    IReadOnlyCollection<string> References,
    IReadOnlyCollection<string> QueueEntryIds,
    IReadOnlyCollection<string> InflightActionIds,
    IReadOnlyCollection<long> LineageWorkSeqs,
    DateTime Now);

/// <summary>
/// The locked balances, the holds (the inflight rows named) and each one's progress, the references already
/// stored, and the queue entries, inflight actions and lineage work rows this batch took (each is taken by one
/// batch only).
/// </summary>
public sealed record BatchReads(
    Dictionary<string, Balance> Balances,
    Dictionary<string, TransactionRecord> Holds,
    Dictionary<string, HoldProgress> HoldProgress,
    HashSet<string> ExistingReferences,
    HashSet<string> TakenQueueEntries,
    HashSet<string> TakenInflightActions,
    HashSet<long> TakenLineageWork)
{
    /// <summary>
    /// Empty reads, to be filled with balances and holds remembered from earlier batches instead of read: no
    /// reference found, nothing taken. The batch's writes then check that each balance is still as remembered, and
    /// that no reference is taken.
    /// </summary>
    public static BatchReads Recalled() =>
        new(new Dictionary<string, Balance>(StringComparer.Ordinal),
            new Dictionary<string, TransactionRecord>(StringComparer.Ordinal),
            new Dictionary<string, HoldProgress>(StringComparer.Ordinal),
            new HashSet<string>(StringComparer.Ordinal), [], [], []);
}
