using System.Threading.Channels;

namespace Blnk.Server.Features;

/// <summary>
/// Answers a read that many requests make at once in batches: the reads waiting at a moment become one query, so
/// under load the database parses, plans and answers once per batch instead of once per read. Each read is still
/// exact: its query starts after the request arrived, so it sees every write acknowledged before. Unbatched
/// (SQLite: reads are in-process and run in parallel beside the writer), each read is a batch of its own, run at
/// once by the caller.
/// </summary>
public abstract class BatchingReader<TRead, TAnswer>(bool batched, ILogger logger) : BackgroundService
{
    private const int BatchMax = 256;

    /// <summary>Two queries in flight: one batch gathers while the other is answered.</summary>
    private const int Loops = 2;

    private readonly Channel<PendingRead> _reads = Channel.CreateUnbounded<PendingRead>();

    /// <summary>The answers to <paramref name="reads"/>, one per read, in the same order.</summary>
    protected abstract Task<IReadOnlyList<TAnswer>> ReadBatchAsync(IReadOnlyList<TRead> reads,
        CancellationToken cancellationToken);

    protected async Task<TAnswer> ReadAsync(TRead read, CancellationToken cancellationToken)
    {
        if (!batched)
        {
            return (await ReadBatchAsync([read], cancellationToken))[0];
        }
        var pending = new PendingRead(read);
        if (!_reads.Writer.TryWrite(pending))
        {
            throw new OperationCanceledException("the server is shutting down");
        }
        return await pending.Completion.Task.WaitAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await Task.WhenAll(Enumerable.Range(0, batched ? Loops : 0).Select(_ => ServeAsync(stoppingToken)));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            _reads.Writer.TryComplete();
            while (_reads.Reader.TryRead(out var pending))
            {
                pending.Completion.TrySetCanceled(stoppingToken);
            }
        }
    }

    private async Task ServeAsync(CancellationToken stoppingToken)
    {
        var batch = new List<PendingRead>(BatchMax);
        while (await _reads.Reader.WaitToReadAsync(stoppingToken))
        {
            batch.Clear();
            while (batch.Count < BatchMax && _reads.Reader.TryRead(out var pending))
            {
                batch.Add(pending);
            }
            if (batch.Count > 0)
            {
                await AnswerAsync(batch, stoppingToken);
            }
        }
    }

    private async Task AnswerAsync(List<PendingRead> batch, CancellationToken stoppingToken)
    {
        try
        {
            var answers = await ReadBatchAsync([.. batch.Select(pending => pending.Read)], stoppingToken);
            Core.Invariant.Assert(answers.Count == batch.Count);
            for (var index = 0; index < batch.Count; index++)
            {
                batch[index].Completion.TrySetResult(answers[index]);
            }
        }
        catch (OperationCanceledException)
        {
            // Shutting down: no read taken here may be left waiting.
            batch.ForEach(pending => pending.Completion.TrySetCanceled());
            throw;
        }
        catch (Exception exception)
        {
            logger.LogWarning(exception, "{Reader}: answering {Count} reads failed", GetType().Name, batch.Count);
            batch.ForEach(pending => pending.Completion.TrySetException(exception));
        }
    }

    private sealed record PendingRead(TRead Read)
    {
        public TaskCompletionSource<TAnswer> Completion { get; } =
            new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
