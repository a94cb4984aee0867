using Blnk.Core.Delivery;
using Blnk.Server.Writer;
using Blnk.Storage;

namespace Blnk.Server.Features.Lineage;

/// <summary>
/// Performs the fund-lineage work the writer records with each transfer on a tracked balance (contract §7):
/// leases due <c>lineage_outbox</c> rows in order per identity, plans each (<see cref="LineagePlanner"/>) and
/// hands it to the <see cref="LedgerWriter"/>, which writes the shadow transactions and marks the row processed
/// in one database transaction. A crash before that commit loses nothing (the lease runs out and the row is
/// planned again); a replay after it changes nothing (the row is already taken).
/// </summary>
/// <remarks>
/// A failure (the database, a missing identity) counts an attempt, keeps the error and retries the row with
/// capped exponential backoff, for ever: the row's identity waits, other identities do not. A unit the writer
/// refuses (a shadow reference someone else already used, a shadow hold resolved by hand) cannot succeed on a
/// retry; it is settled as processed with the refusal kept in <c>last_error</c> and logged as an error.
/// </remarks>
public sealed class LineageProcessor(ILedgerStore store, LineagePlanner planner, LedgerWriter writer,
    TimeProvider clock, ILogger<LineageProcessor> logger) : BackgroundService
{
    private const int ClaimBatchSizeMax = 100;

    /// <summary>Long enough to plan and write a unit under load; a unit still running after it is harmless.</summary>
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan IdlePoll = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan ErrorPause = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan RetryDelayFirst = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan RetryDelayMax = TimeSpan.FromMinutes(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var now = clock.GetUtcNow().UtcDateTime;
                var claimed = await store.ClaimLineageWorkAsync(ClaimBatchSizeMax, now, now + Lease, stoppingToken);
                if (claimed.Count == 0)
                {
                    await Task.Delay(IdlePoll, clock, stoppingToken);
                    continue;
                }
                await ProcessAsync(claimed, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                logger.LogError(exception, "Lineage processing failed; the leased work will be retried");
                await Task.Delay(ErrorPause, clock, stoppingToken);
            }
        }
    }

    /// <summary>
    /// Plans and submits every claimed row, then waits for them together: the claim returns at most one row per
    /// identity, so the rows are independent and the writer can apply them in one batch.
    /// </summary>
    private async Task ProcessAsync(IReadOnlyList<PendingLineageWork> claimed, CancellationToken cancellationToken)
    {
        var submitted = new List<(PendingLineageWork Work, WriteUnit Unit)>();
        foreach (var work in claimed)
        {
            try
            {
                var unit = await planner.PlanAsync(work, cancellationToken);
                await writer.SubmitAsync(unit, cancellationToken);
                submitted.Add((work, unit));
            }
            catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
            {
                await RetryLaterAsync(work, exception, cancellationToken);
            }
        }
        foreach (var (work, unit) in submitted)
        {
            try
            {
                await SettleAsync(work, await unit.Completion, cancellationToken);
            }
            catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
            {
                await RetryLaterAsync(work, exception, cancellationToken);
            }
        }
    }

    private async Task SettleAsync(PendingLineageWork work, UnitOutcome outcome, CancellationToken cancellationToken)
    {
        if (outcome.FirstRejection is { } refusal)
        {
            logger.LogError("Lineage {Type} of {Transaction} was refused and is given up: {Reason}", work.Type,
                work.TransactionId, refusal.Message);
            await store.RecordLineageAttemptAsync(work.Seq, $"refused: {refusal.Message}", null, cancellationToken);
        }
        else if (outcome.AlreadyProcessed)
        {
            logger.LogInformation("Lineage {Type} of {Transaction} was already processed", work.Type,
                work.TransactionId);
        }
    }

    private async Task RetryLaterAsync(PendingLineageWork work, Exception exception,
        CancellationToken cancellationToken)
    {
        var attempt = work.Attempts + 1;
        var delay = RetrySchedule.DelayAfter(attempt, RetryDelayFirst, RetryDelayMax);
        logger.LogWarning(exception, "Lineage {Type} of {Transaction} failed (attempt {Attempt}); retrying in {Delay}",
            work.Type, work.TransactionId, attempt, delay);
        await store.RecordLineageAttemptAsync(work.Seq, exception.Message, clock.GetUtcNow().UtcDateTime + delay,
            cancellationToken);
    }
}
