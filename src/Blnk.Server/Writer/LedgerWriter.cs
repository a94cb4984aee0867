using System.Threading.Channels;
using Blnk.Core;
using Blnk.Core.Transactions;
using Blnk.Server.Features.Monitors;
using Blnk.Server.Features.Webhooks;
using Blnk.Storage;

namespace Blnk.Server.Writer;

/// <summary>
/// The batching writer: the only path by which balances change. One loop per process drains what
/// is waiting (up to the batch size, no timer), applies it in one database transaction and only
/// then completes each item.
/// </summary>
/// <remarks>
/// One transaction per transfer caps PostgreSQL near 3k transfers/s and a hot balance far lower,
/// because each transfer waits for the previous one's row lock and flush. A batch costs about one
/// round trip and one flush for all its items, and a hot balance is loaded and written once per
/// batch. Correctness across processes comes from the database: rows are locked in id order, a
/// reference is unique by index, and a conflicting batch is retried whole.
/// </remarks>
public sealed class LedgerWriter(ILedgerStore store, QueueSignal queueSignal, WriterOptions options, IdGenerator ids,
    MonitorRegistry monitors, EventOutbox eventOutbox, TimeProvider clock, ILogger<LedgerWriter> logger)
    : BackgroundService
{
    private const int ConflictAttemptsMax = 5;

    private readonly Channel<WriteUnit> _channel = Channel.CreateBounded<WriteUnit>(
        new BoundedChannelOptions(options.QueueSize) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    /// <summary>Offers a unit from a request; false when the queue is full (the caller answers 503).</summary>
    public bool TrySubmit(WriteUnit unit) => _channel.Writer.TryWrite(unit);

    /// <summary>Submits a unit from background work, waiting for room instead of refusing.</summary>
    public ValueTask SubmitAsync(WriteUnit unit, CancellationToken cancellationToken) =>
        _channel.Writer.WriteAsync(unit, cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<WriteUnit>();
        var reader = _channel.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken))
            {
                batch.Clear();
                // A unit is never split across batches, so a large atomic unit may make a batch larger.
                var operations = 0;
                while (operations < options.BatchSize && reader.TryRead(out var unit))
                {
                    batch.Add(unit);
                    operations += unit.Operations.Count;
                }
                await RunBatchAsync(batch, CancellationToken.None);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            FailWaiting();
        }
    }

    private async Task RunBatchAsync(List<WriteUnit> batch, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var outcomes = await ApplyBatchAsync(batch, cancellationToken);
                for (var i = 0; i < batch.Count; i++)
                {
                    batch[i].Complete(outcomes[i]);
                }
                return;
            }
            catch (Exception exception) when (attempt < ConflictAttemptsMax && store.IsRetryableConflict(exception))
            {
                logger.LogInformation("Writer batch of {Count} conflicted ({Message}); retrying", batch.Count,
                    exception.Message);
            }
            catch (Exception exception) when (batch.Count > 1 && exception is not InvariantException)
            {
                // One item the database refuses must not fail the others: halve until it stands alone.
                logger.LogWarning("Writer batch of {Count} failed ({Message}); retrying it in halves", batch.Count,
                    exception.Message);
                await RunBatchAsync(batch[..(batch.Count / 2)], cancellationToken);
                await RunBatchAsync(batch[(batch.Count / 2)..], cancellationToken);
                return;
            }
            catch (Exception exception)
            {
                var level = exception is InvariantException ? LogLevel.Critical : LogLevel.Error;
                logger.Log(level, exception, "Writer batch of {Count} failed; nothing of it was committed",
                    batch.Count);
                batch.ForEach(unit => unit.Fail(exception));
                return;
            }
        }
    }

    private async Task<UnitOutcome[]> ApplyBatchAsync(List<WriteUnit> batch, CancellationToken cancellationToken)
    {
        var operations = batch.SelectMany(unit => unit.Operations).ToList();
        var posts = operations.OfType<PostTransaction>().Select(post => post.Row).ToList();
        var resolves = operations.OfType<ResolveInflight>().ToList();
        await using var dbBatch = await store.BeginWriteBatchAsync(cancellationToken);
        var holdRows = await dbBatch.LoadTransactionsAsync(
            [.. resolves.Select(resolve => resolve.HoldId).Distinct(StringComparer.Ordinal)], cancellationToken);
        var balanceIds = posts.Concat(holdRows.Values)
            .SelectMany(row => new[] { row.Source, row.Destination })
            .Distinct(StringComparer.Ordinal).ToList();
        var balances = await dbBatch.LockBalancesAsync(balanceIds, cancellationToken);
        // Read after the locks: every other change to these holds had to take the same balance locks first.
        var progress = await dbBatch.LoadHoldProgressAsync(holdRows.Keys, cancellationToken);
        var holds = holdRows.Values.ToDictionary(row => row.TransactionId,
            row => new Hold(row, progress[row.TransactionId].Committed, progress[row.TransactionId].Voided),
            StringComparer.Ordinal);
        var references = await dbBatch.FindExistingReferencesAsync(
            [.. posts.Select(row => row.Reference).Concat(resolves.Select(resolve => resolve.Reference))
                .Distinct(StringComparer.Ordinal)], cancellationToken);
        var takenEntries = await dbBatch.TakeQueueEntriesAsync(
            [.. batch.Select(unit => unit.QueueEntryId).OfType<string>()], cancellationToken);
        var takenActions = await dbBatch.TakeInflightActionsAsync(
            [.. batch.Select(unit => unit.InflightActionId).OfType<string>()], cancellationToken);
        var now = Clock.Now(clock);
        var takenLineageWork = await dbBatch.TakeLineageWorkAsync(
            [.. batch.Select(unit => unit.LineageWorkSeq).OfType<long>()], now, cancellationToken);
        var plan = new BatchPlan(balances, holds, references, takenEntries, takenActions, takenLineageWork,
            () => ids.New(IdGenerator.ActionPrefix), monitors.ForBalance);
        var outcomes = batch.Select(plan.Decide).ToArray();
        await dbBatch.InsertTransactionsAsync(plan.Rows, cancellationToken);
        await dbBatch.EnqueueAsync(plan.QueueEntries, cancellationToken);
        await dbBatch.ScheduleInflightActionsAsync(plan.ScheduledActions, cancellationToken);
        await dbBatch.UpdateBalancesAsync(plan.TouchedBalances.Values, cancellationToken);
        await dbBatch.AppendLineageWorkAsync(plan.LineageWork, now, cancellationToken);
        await dbBatch.SettleLineageAsync(plan.LineageSettlements, cancellationToken);
        await dbBatch.AppendOutboxAsync(Events(plan), now, cancellationToken);
        await dbBatch.CommitAsync(cancellationToken);
        if (plan.QueueEntries.Count > 0 || plan.ScheduledActions.Count > 0)
        {
            queueSignal.Notify();
        }
        return outcomes;
    }

    /// <summary>The webhook, callback and hook deliveries the batch's changes cause (none when nobody listens).</summary>
    private List<OutboxEvent> Events(BatchPlan plan)
    {
        var events = new List<OutboxEvent>();
        if (eventOutbox.WantsTransactions)
        {
            plan.Rows.ForEach(row => eventOutbox.AddTransaction(events, row));
        }
        plan.FiredMonitors.ForEach(monitor => eventOutbox.AddMonitor(events, monitor));
        return events;
    }

    private void FailWaiting()
    {
        _channel.Writer.TryComplete();
        while (_channel.Reader.TryRead(out var unit))
        {
            unit.Fail(new OperationCanceledException("the server is shutting down"));
        }
    }
}

/// <summary>Writer limits: the items of one database transaction and the bounded queue in front of it.</summary>
public sealed record WriterOptions(int BatchSize, int QueueSize);

/// <summary>Wakes the queue processor when queued work was committed in this process.</summary>
public sealed class QueueSignal : IDisposable
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    public void Notify()
    {
        if (_signal.CurrentCount == 0)
        {
            try
            {
                _signal.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another notifier got there first; one wake-up is enough.
            }
        }
    }

    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        _signal.WaitAsync(timeout, cancellationToken);

    public void Dispose() => _signal.Dispose();
}
