using System.Numerics;
using Blnk.Core.Balances;
using Blnk.Core.Transactions;
using Blnk.Storage;

namespace Blnk.Server.Writer;

/// <summary>What posting a transaction row asks of the writer.</summary>
public enum PostMode
{
    /// <summary><c>skip_queue</c>: apply now; a refusal writes nothing and is answered to the caller.</summary>
    ApplyNow,

    /// <summary>Default path: store the QUEUED (or SCHEDULED) row and its queue entry.</summary>
    Enqueue,

    /// <summary>Apply a queued transaction: write its <c>_q</c> child as APPLIED, INFLIGHT or REJECTED.</summary>
    ApplyQueued,
}

/// <summary>How a queued transaction's outcome is recorded, by whichever path applies it.</summary>
public static class QueuedTransactions
{
    /// <summary>How long a claimed (or handed-off) queue entry is this process's before another may take it.</summary>
    public static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    /// <summary>The row that records a queued transaction's outcome (contract §6.2, decision 3).</summary>
    private static TransactionRecord ChildOf(TransactionRecord queued, string transactionId, DateTime now) =>
        queued with
        {
            TransactionId = transactionId,
            ParentTransaction = queued.TransactionId,
            Reference = ChildReference(queued.Reference),
            CreatedAt = now,
        };

    /// <summary>The reference of the row that records the outcome of the queued transaction with this one.</summary>
    public static string ChildReference(string reference) => reference + "_q";

    /// <summary>
    /// The writer unit that applies the <paramref name="queued"/> rows of one queue entry (a transaction, or an
    /// atomic group's legs) and settles the entry; each child gets an id from <paramref name="newId"/>. Without an
    /// entry (<see cref="QueueHandoff.ApplyWithAccept"/>) it settles nothing.
    /// </summary>
    public static WriteUnit ApplyUnit(string? entryId, IEnumerable<TransactionRecord> queued, Func<string> newId,
        DateTime now) => new()
    {
        Operations = [.. queued.Select(row => new PostTransaction(ChildOf(row, newId(), now), PostMode.ApplyQueued))],
        QueueEntryId = entryId,
    };
}

/// <summary>
/// How many of a batch's due queue entries without a group the writer may apply itself right after the commit,
/// stored leased to this process until <paramref name="LeaseUntil"/>, so that no claim has to find them. With
/// <paramref name="ApplyWithAccept"/> it applies them in the batch that accepts them instead, after every unit of
/// it, and stores no entry: the writer keeps up and no transaction accepted earlier waits to be applied.
/// </summary>
public sealed record QueueHandoff(DateTime Now, DateTime LeaseUntil, int Room, bool ApplyWithAccept = false);

/// <summary>One change the writer makes inside a unit.</summary>
public abstract record LedgerOperation;

/// <summary>Post a transaction row (see <see cref="PostMode"/>).</summary>
public sealed record PostTransaction(TransactionRecord Row, PostMode Mode) : LedgerOperation;

/// <summary>
/// Commit (some or all of) or void an inflight hold. The new row takes its id, reference and time from
/// here and everything else from the hold.
/// </summary>
public sealed record ResolveInflight(string HoldId, bool Commit, BigInteger? Amount, string TransactionId,
    string Reference, DateTime CreatedAt) : LedgerOperation
{
    /// <summary>The reference of a commit or void made on the queued path (contract §5.1): one per action.</summary>
    public static string QueuedReference(string holdId, bool commit, string actionId) =>
        $"{holdId}_{(commit ? "commit" : "void")}_{actionId}";
}

/// <summary>How a unit of several operations is applied.</summary>
public enum UnitPolicy
{
    /// <summary>All operations or none, in one database transaction (decision 5).</summary>
    Atomic,

    /// <summary>In order until the first refusal; what was applied before it stays (Blnk's non-atomic sync bulk).</summary>
    StopAtFirstRefusal,
}

/// <summary>The result of one operation: the row written (if any) and why it was refused (if it was).</summary>
public sealed record OperationOutcome(TransactionRecord? Row, Rejection? Rejection)
{
    /// <summary>Not attempted: an earlier operation of a stop-at-first-refusal unit was refused.</summary>
    public static readonly OperationOutcome NotAttempted = new(null, null);
}

/// <summary>A balance a unit touched, before and after it (dry runs show both).</summary>
public sealed record BalanceChange(Balance Before, Balance After);

/// <summary>
/// The result of a unit. <see cref="AlreadyProcessed"/>: the queue entry, inflight action or lineage work it
/// settles was settled before (another process, or a replay), so nothing was done.
/// </summary>
public sealed record UnitOutcome(IReadOnlyList<OperationOutcome> Operations, bool AlreadyProcessed = false,
    IReadOnlyList<BalanceChange>? Changes = null)
{
    public Rejection? FirstRejection => Operations.FirstOrDefault(operation => operation.Rejection is not null)?.Rejection;

    /// <summary>The operation whose refusal decided the unit (not one refused only because of it), or null.</summary>
    public int? CauseIndex
    {
        get
        {
            var index = FirstRejectedIndex;
            if (index < 0)
            {
                return null;
            }
            for (var i = index; i < Operations.Count; i++)
            {
                if (Operations[i].Rejection is { Code: not RejectionCode.AtomicGroupRefused })
                {
                    return i;
                }
            }
            return index;
        }
    }

    /// <summary>The index of the first refused operation, or -1.</summary>
    public int FirstRejectedIndex
    {
        get
        {
            for (var i = 0; i < Operations.Count; i++)
            {
                if (Operations[i].Rejection is not null)
                {
                    return i;
                }
            }
            return -1;
        }
    }
}

/// <summary>
/// One item of the writer's queue: operations applied together, completed only after the batch's
/// commit is durable (or, for a dry run, decided and discarded).
/// </summary>
public sealed class WriteUnit
{
    private readonly TaskCompletionSource<UnitOutcome> _completion =
        new(TaskCreationOptions.RunContinuationsAsynchronously);

    public required IReadOnlyList<LedgerOperation> Operations { get; init; }

    public UnitPolicy Policy { get; init; } = UnitPolicy.Atomic;

    /// <summary>Enqueue: when the queued rows become due at the earliest (a row's later <c>scheduled_for</c> wins).</summary>
    public DateTime AvailableAt { get; init; }

    /// <summary>Enqueue of an atomic group: one queue entry for all rows, which share this parent id.</summary>
    public string? QueueGroupId { get; init; }

    /// <summary>The queue entry this unit settles (applied at most once).</summary>
    public string? QueueEntryId { get; init; }

    /// <summary>The pending inflight action this unit settles (run at most once).</summary>
    public string? InflightActionId { get; init; }

    /// <summary>The lineage work row this unit settles (takes effect at most once).</summary>
    public long? LineageWorkSeq { get; init; }

    /// <summary>Written with the unit's rows when it is accepted: lineage mappings and a debit's fund allocation.</summary>
    public LineageSettlement? LineageSettlement { get; init; }

    /// <summary>Decide everything, write nothing, and report the balances before and after.</summary>
    public bool DryRun { get; init; }

    /// <summary>
    /// Events that report the unit's outcome (e.g. an async bulk's completion), recorded in the same database
    /// transaction as the unit's rows.
    /// </summary>
    public Func<UnitOutcome, IReadOnlyList<OutboxEvent>>? OutcomeEvents { get; init; }

    /// <summary>Dry runs only: <c>@indicator</c> balances that do not exist yet, as they would be created.</summary>
    public IReadOnlyList<Balance> VirtualBalances { get; init; } = [];

    public Task<UnitOutcome> Completion => _completion.Task;

    internal void Complete(UnitOutcome outcome) => _completion.TrySetResult(outcome);

    internal void Fail(Exception exception) => _completion.TrySetException(exception);
}
