using Blnk.Storage;

namespace Blnk.Server.Writer;

/// <summary>
/// Runs the database's due work through the writer: queued and scheduled transactions (each as its
/// <c>_q</c> child; an atomic group as one unit) and inflight actions (queued commit/void requests,
/// expiries, scheduled commits). Work is leased (SKIP LOCKED on PostgreSQL, so several processes share
/// it) and the writer removes each entry in the same database transaction that writes its outcome, so
/// each runs exactly once; after a crash the lease runs out and the entry is picked up again.
/// </summary>
public sealed class QueueProcessor(ILedgerStore store, LedgerWriter writer, QueueSignal signal, IdGenerator ids,
    TimeProvider clock, ILogger<QueueProcessor> logger) : BackgroundService
{
    private const int ClaimBatchSizeMax = LedgerWriter.BackgroundOperationsMax; // one claim tops up one batch
    private static readonly TimeSpan Lease = QueuedTransactions.Lease;
    private static readonly TimeSpan IdlePoll = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan ErrorPause = TimeSpan.FromSeconds(1);

    /// <summary>Claimed batches handed to the writer and not yet settled: claiming the next overlaps applying one.</summary>
    private const int QueuedBatchesInFlightMax = 2;

    private readonly Queue<Task> _queuedInFlight = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var processed = await ClaimQueuedAsync(stoppingToken) + await ProcessInflightActionsAsync(stoppingToken);
                if (processed == 0 && _queuedInFlight.Count > 0)
                {
                    await _queuedInFlight.Dequeue();
                }
                else if (processed == 0)
                {
                    await signal.WaitAsync(IdlePoll, stoppingToken);
                }
                while (_queuedInFlight.Count >= QueuedBatchesInFlightMax)
                {
                    await _queuedInFlight.Dequeue();
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                logger.LogError(exception, "Processing due work failed; the leased entries will be retried");
                await Task.Delay(ErrorPause, clock, stoppingToken);
            }
        }
    }

    /// <summary>Leases due queue entries and hands them to the writer; their settling is awaited later.</summary>
    private async Task<int> ClaimQueuedAsync(CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var leftToClaims = writer.LeftToClaims;
        var entries = await store.ClaimQueuedAsync(ClaimBatchSizeMax, now, now + Lease, cancellationToken);
        if (entries.Count == 0)
        {
            if (_queuedInFlight.Count == 0)
            {
                writer.ClaimsCaughtUp(leftToClaims);
            }
            return 0;
        }
        var units = entries.Select(entry => QueuedTransactions.ApplyUnit(entry.EntryId, entry.Rows,
            () => ids.New(IdGenerator.TransactionPrefix), Clock.Now(clock))).ToList();
        // Submitted before the next claim (a full writer queue makes this wait), so claims keep their order.
        await SubmitAllAsync(units, cancellationToken);
        _queuedInFlight.Enqueue(Task.WhenAll(units.Select(unit => unit.Completion)));
        return entries.Count;
    }

    private async Task<int> ProcessInflightActionsAsync(CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var actions = await store.ClaimInflightActionsAsync(ClaimBatchSizeMax, now, now + Lease, cancellationToken);
        var units = actions.Select(action => new WriteUnit
        {
            Operations =
            [
                new ResolveInflight(action.TransactionId, action.Commit, action.PreciseAmount,
                    ids.New(IdGenerator.TransactionPrefix),
                    ResolveInflight.QueuedReference(action.TransactionId, action.Commit, action.ActionId),
                    Clock.Now(clock)),
            ],
            InflightActionId = action.ActionId,
        }).ToList();
        var outcomes = await RunAsync(units, cancellationToken);
        foreach (var (action, outcome) in actions.Zip(outcomes))
        {
            if (outcome.FirstRejection is { } refusal)
            {
                // Terminal for this action (already committed, voided, …): it is settled and not retried.
                logger.LogInformation("Inflight {Origin} {Action} of {Transaction} not applied: {Reason}",
                    action.Origin, action.Commit ? "commit" : "void", action.TransactionId, refusal.Message);
            }
        }
        return actions.Count;
    }

    private async Task<UnitOutcome[]> RunAsync(List<WriteUnit> units, CancellationToken cancellationToken)
    {
        await SubmitAllAsync(units, cancellationToken);
        return await Task.WhenAll(units.Select(unit => unit.Completion));
    }

    private async Task SubmitAllAsync(List<WriteUnit> units, CancellationToken cancellationToken)
    {
        foreach (var unit in units)
        {
            await writer.SubmitAsync(unit, cancellationToken);
        }
    }
}
