using System.Numerics;
using Blnk.Core.Money;
using Blnk.Core.Transactions;
using Blnk.Server.Errors;
using Blnk.Server.Features.Transactions;
using Blnk.Server.Json;
using Blnk.Server.Writer;
using Blnk.Storage;

namespace Blnk.Server.Features.Inflight;

/// <summary>How an inflight commit or void is carried out.</summary>
public enum InflightMode
{
    /// <summary><c>skip_queue</c>: applied now; the answer is the new APPLIED or VOID row.</summary>
    Synchronous,

    /// <summary>
    /// Default: answered as queued. Applied now by the writer while it keeps up and nothing is pending for the
    /// hold, else checked now, stored as a durable action and applied by the queue processor.
    /// </summary>
    Queued,

    /// <summary>Decided and discarded: a preview.</summary>
    DryRun,
}

/// <summary>The answer to an inflight action: a row, an error, or a preview.</summary>
public sealed record InflightResult(TransactionRecord? Row, ApiError? Error, DryRunPreview? Preview = null,
    bool Queued = false);

/// <summary>
/// <c>PUT /transactions/inflight/{id}</c> and its bulk forms (contract §4.5.5–4.5.6). The id may name
/// the hold itself, the queued transaction whose outcome is the hold, a split parent or a bulk batch:
/// every INFLIGHT row under it is acted on, all or none.
/// </summary>
public sealed class InflightService(ILedgerStore store, FamilyReader families, LedgerWriter writer,
    QueueSignal signal, IdGenerator ids, TimeProvider clock)
{
    private static readonly string[] InflightStatus = [TransactionStatus.Inflight];
    private static readonly string[] QueuedStatus = [TransactionStatus.Queued];
    private static readonly TimeSpan QueuedHoldWaitMax = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan QueuedHoldPoll = TimeSpan.FromMilliseconds(20);

    public async Task<InflightResult> ResolveAsync(string transactionId, bool commit, double? amount,
        BigInteger? preciseAmount, InflightMode mode, CancellationToken cancellationToken)
    {
        var legs = await FindHoldsAsync(transactionId, cancellationToken);
        if (legs.Count == 0)
        {
            return Failed(ErrorCodes.NotInflight, $"no transaction to {(commit ? "commit" : "void")}");
        }
        var (requested, invalid) = commit ? RequestedAmount(amount, preciseAmount, legs[0].Precision) : (null, null);
        if (invalid is not null)
        {
            return new InflightResult(null, invalid);
        }
        return mode == InflightMode.Queued
            ? await QueueAsync(legs, commit, requested, cancellationToken)
            : await ApplyAsync(legs, commit, requested, mode);
    }

    /// <summary>
    /// The INFLIGHT rows under the id: a hold the writer remembers alone, else looked up. A hold created on the
    /// queued path becomes INFLIGHT when the queue applies it, normally within milliseconds of its 201; an action
    /// sent in that window waits for it (as Blnk falls back to the still-QUEUED row) instead of being refused.
    /// </summary>
    private async Task<IReadOnlyList<TransactionRecord>> FindHoldsAsync(string transactionId,
        CancellationToken cancellationToken)
    {
        if (writer.RecallLoneHold(transactionId) is { } hold)
        {
            return [hold];
        }
        var deadline = clock.GetUtcNow() + QueuedHoldWaitMax;
        while (true)
        {
            var legs = await families.FindAsync(transactionId, InflightStatus, cancellationToken);
            if (legs.Count > 0 || clock.GetUtcNow() > deadline)
            {
                return legs;
            }
            var pending = await families.FindAsync(transactionId, QueuedStatus, cancellationToken);
            if (!pending.Any(row => row.Inflight) || !await store.HasQueuedWorkAsync(pending, cancellationToken))
            {
                // The queue may have applied the hold since the first look: look once more.
                return await families.FindAsync(transactionId, InflightStatus, cancellationToken);
            }
            await Task.Delay(QueuedHoldPoll, clock, cancellationToken);
        }
    }

    /// <summary>
    /// Applies the action through the writer; 503 when the writer's queue is full.
    /// </summary>
    private async Task<InflightResult> ApplyAsync(IReadOnlyList<TransactionRecord> legs, bool commit,
        BigInteger? requested, InflightMode mode) =>
        await TryApplyAsync(legs, commit, requested, mode)
        ?? new InflightResult(null, TransactionService.Backpressure());

    /// <summary>
    /// Applies the action through the writer, or null when the writer's queue is full.
    /// <see cref="InflightMode.Queued"/> answers as the queued path does: the hold marked queued, or the refusal its
    /// checks would have given.
    /// </summary>
    private async Task<InflightResult?> TryApplyAsync(IReadOnlyList<TransactionRecord> legs, bool commit,
        BigInteger? requested, InflightMode mode)
    {
        var dryRun = mode == InflightMode.DryRun;
        var now = Clock.Now(clock);
        var unit = new WriteUnit
        {
            Operations = [.. legs.Select(leg => new ResolveInflight(leg.TransactionId, commit, requested,
                ids.New(IdGenerator.TransactionPrefix), ReferenceOf(leg.TransactionId, commit, mode), now))],
            DryRun = dryRun,
        };
        if (!writer.TrySubmit(unit))
        {
            return null;
        }
        var outcome = await unit.Completion;
        if (dryRun)
        {
            return new InflightResult(null, null, Preview(outcome, legs[0], commit, requested));
        }
        if (outcome.FirstRejection is { } refusal)
        {
            var error = TransactionService.ToApiError(refusal);
            return new InflightResult(null, mode == InflightMode.Queued
                ? error
                : error with { Message = $"error occurred during processing: [{error.Message}]" });
        }
        return mode == InflightMode.Queued
            ? new InflightResult(legs[0], null, Queued: true)
            : new InflightResult(outcome.Operations[0].Row, null);
    }

    /// <summary>A commit or void answered as queued gets the reference a stored action would have given it.</summary>
    private string ReferenceOf(string holdId, bool commit, InflightMode mode) => mode == InflightMode.Queued
        ? ResolveInflight.QueuedReference(holdId, commit, ids.New(IdGenerator.ActionPrefix))
        : ids.New(IdGenerator.ReferencePrefix);

    /// <summary>
    /// While the writer keeps up and no request is pending for the holds, applies the action at once (decision 35):
    /// a stored action would cost its own database transaction and a claim, and be applied a moment later anyway.
    /// Otherwise (or when the writer's queue turns out full) checks the request against the holds as they are now,
    /// then stores one action per hold; the unique (hold, origin) index refuses a second pending request. The
    /// processor re-checks when it applies them.
    /// </summary>
    private async Task<InflightResult> QueueAsync(IReadOnlyList<TransactionRecord> legs, bool commit,
        BigInteger? requested, CancellationToken cancellationToken)
    {
        var holdIds = legs.Select(leg => leg.TransactionId).ToList();
        if (writer.KeepsUp && !await store.HasQueuedInflightRequestAsync(holdIds, cancellationToken)
            && await TryApplyAsync(legs, commit, requested, InflightMode.Queued) is { } applied)
        {
            return applied;
        }
        var progress = await store.GetHoldProgressAsync(holdIds, cancellationToken);
        foreach (var leg in legs)
        {
            var hold = new Hold(leg, progress[leg.TransactionId].Committed, progress[leg.TransactionId].Voided);
            if ((commit ? InflightEngine.CheckCommit(hold, requested) : InflightEngine.CheckVoid(hold)) is { } refusal)
            {
                return new InflightResult(null, TransactionService.ToApiError(refusal));
            }
        }
        var now = Clock.Now(clock);
        var actions = legs.Select(leg => new InflightActionEntry(ids.New(IdGenerator.ActionPrefix), leg.TransactionId,
            commit, requested, InflightActionOrigin.Request, now)).ToList();
        if (!await store.TryQueueInflightActionsAsync(actions, cancellationToken))
        {
            return Failed(ErrorCodes.Conflict, "a commit or void is already queued for this transaction");
        }
        signal.Notify();
        return new InflightResult(legs[0], null, Queued: true);
    }

    private static (BigInteger? Amount, ApiError? Error) RequestedAmount(double? amount, BigInteger? preciseAmount,
        BigInteger precision)
    {
        if (preciseAmount is { } precise)
        {
            return precise.Sign > 0
                ? (precise, null)
                : (null, new ApiError(ErrorCodes.InvalidAmount, "precise_amount must be positive"));
        }
        if (amount is not { } major || major == 0)
        {
            return (null, null);
        }
        if (!double.IsFinite(major))
        {
            return (null, new ApiError(ErrorCodes.InvalidAmount, "commit amount must be a finite number"));
        }
        return major < 0
            ? (null, new ApiError(ErrorCodes.InvalidAmount, "commit amount cannot be negative"))
            : (Precision.ToPreciseAmount(major, precision), null);
    }

    private static DryRunPreview Preview(UnitOutcome outcome, TransactionRecord hold, bool commit,
        BigInteger? requested)
    {
        var shape = outcome.Operations[0].Row ?? hold with
        {
            PreciseAmount = requested ?? hold.PreciseAmount,
            Status = commit ? TransactionStatus.Applied : TransactionStatus.Void,
        };
        var roles = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [hold.Source] = "source",
            [hold.Destination] = "destination",
        };
        return DryRunPreviews.From(outcome, shape, roles, commit ? "commit" : "void");
    }

    private static InflightResult Failed(string code, string message) => new(null, new ApiError(code, message));
}
