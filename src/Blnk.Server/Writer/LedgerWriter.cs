using System.Threading.Channels;
using Blnk.Core;
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
public sealed class LedgerWriter(ILedgerStore store, QueueSignal queueSignal, WriterOptions options,
    ILogger<LedgerWriter> logger) : BackgroundService
{
    private const int ConflictAttemptsMax = 5;

    private readonly Channel<TransactionWrite> _channel = Channel.CreateBounded<TransactionWrite>(
        new BoundedChannelOptions(options.QueueSize) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    /// <summary>Offers a write from a request; false when the queue is full (the caller answers 503).</summary>
    public bool TrySubmit(TransactionWrite write) => _channel.Writer.TryWrite(write);

    /// <summary>Submits a write from background work, waiting for room instead of refusing.</summary>
    public ValueTask SubmitAsync(TransactionWrite write, CancellationToken cancellationToken) =>
        _channel.Writer.WriteAsync(write, cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<TransactionWrite>(options.BatchSize);
        var reader = _channel.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken))
            {
                batch.Clear();
                while (batch.Count < options.BatchSize && reader.TryRead(out var write))
                {
                    batch.Add(write);
                }
                await RunBatchAsync(batch, CancellationToken.None);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            FailWaiting();
        }
    }

    private async Task RunBatchAsync(List<TransactionWrite> batch, CancellationToken cancellationToken)
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
                batch.ForEach(write => write.Fail(exception));
                return;
            }
        }
    }

    private async Task<WriteOutcome[]> ApplyBatchAsync(List<TransactionWrite> batch,
        CancellationToken cancellationToken)
    {
        await using var dbBatch = await store.BeginWriteBatchAsync(cancellationToken);
        var balanceIds = batch.SelectMany(write => new[] { write.Row.Source, write.Row.Destination })
            .Distinct(StringComparer.Ordinal).ToList();
        var balances = await dbBatch.LockBalancesAsync(balanceIds, cancellationToken);
        var references = await dbBatch.FindExistingReferencesAsync(
            [.. batch.Select(write => write.Row.Reference).Distinct(StringComparer.Ordinal)], cancellationToken);
        var taken = await dbBatch.TakeQueueEntriesAsync(
            [.. batch.Where(write => write.Mode == WriteMode.ApplyQueued).Select(write => write.Row.ParentTransaction)],
            cancellationToken);
        var plan = new BatchPlan(balances, references, taken);
        var outcomes = batch.Select(plan.Decide).ToArray();
        await dbBatch.InsertTransactionsAsync(plan.Rows, cancellationToken);
        await dbBatch.EnqueueAsync(plan.QueueEntries, cancellationToken);
        await dbBatch.UpdateBalancesAsync(plan.TouchedBalances.Values, cancellationToken);
        await dbBatch.CommitAsync(cancellationToken);
        if (plan.QueueEntries.Count > 0)
        {
            queueSignal.Notify();
        }
        return outcomes;
    }

    private void FailWaiting()
    {
        _channel.Writer.TryComplete();
        while (_channel.Reader.TryRead(out var write))
        {
            write.Fail(new OperationCanceledException("the server is shutting down"));
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
