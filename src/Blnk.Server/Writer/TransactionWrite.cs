using Blnk.Core.Transactions;

namespace Blnk.Server.Writer;

/// <summary>What a write asks the batching writer to do with its row.</summary>
public enum WriteMode
{
    /// <summary><c>skip_queue</c>: apply now; a refusal writes nothing and is answered to the caller.</summary>
    ApplyNow,

    /// <summary>Default path: store the QUEUED (or SCHEDULED) row and its queue entry.</summary>
    Enqueue,

    /// <summary>Apply a queued transaction: write its <c>_q</c> child as APPLIED, INFLIGHT or REJECTED.</summary>
    ApplyQueued,
}

/// <summary>The result of one write: the row written (if any) and why it was refused (if it was).</summary>
public sealed record WriteOutcome(TransactionRecord? Row, Rejection? Rejection)
{
    /// <summary>The queued transaction was already applied elsewhere (another process, or a replay).</summary>
    public static readonly WriteOutcome AlreadyProcessed = new(null, null);
}

/// <summary>One item of a writer batch. Completed only after the batch's commit is durable.</summary>
public sealed class TransactionWrite
{
    private readonly TaskCompletionSource<WriteOutcome> _completion =
        new(TaskCreationOptions.RunContinuationsAsynchronously);

    public required WriteMode Mode { get; init; }

    /// <summary>ApplyNow: the row to insert once applied; Enqueue: the QUEUED row; ApplyQueued: the <c>_q</c> child.</summary>
    public required TransactionRecord Row { get; init; }

    /// <summary>Enqueue: when the queued row becomes due (now, or <c>scheduled_for</c>).</summary>
    public DateTime AvailableAt { get; init; }

    public Task<WriteOutcome> Completion => _completion.Task;

    internal void Complete(WriteOutcome outcome) => _completion.TrySetResult(outcome);

    internal void Fail(Exception exception) => _completion.TrySetException(exception);
}
