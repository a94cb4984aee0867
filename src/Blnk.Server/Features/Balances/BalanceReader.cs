using System.Threading.Channels;
using Blnk.Core.Balances;
using Blnk.Storage;

namespace Blnk.Server.Features.Balances;

/// <summary>
/// Serves <c>GET /balances/{id}</c> reads in batches: the reads waiting at a moment become one query
/// (<c>balance_id = ANY(…)</c>), so under load the database parses, plans and answers once per batch instead
/// of once per read. Each read is still exact: its query starts after the request arrived, so it sees every
/// write acknowledged before. SQLite reads are in-process and run in parallel beside the writer (WAL), so
/// there each read simply runs on its own.
/// </summary>
public sealed class BalanceReader(ILedgerStore store, ILogger<BalanceReader> logger) : BackgroundService
{
    private const int BatchMax = 256;

    /// <summary>Two queries in flight: one batch gathers while the other is answered.</summary>
    private const int Loops = 2;

    private readonly Channel<PendingRead> _reads = Channel.CreateUnbounded<PendingRead>();

    private bool Batched => store.Dialect != "sqlite";

    public Task<Balance?> GetAsync(string balanceId, CancellationToken cancellationToken)
    {
        if (!Batched)
        {
            return store.GetBalanceAsync(balanceId, cancellationToken);
        }
        var read = new PendingRead(balanceId);
        if (!_reads.Writer.TryWrite(read))
        {
            throw new OperationCanceledException("the server is shutting down");
        }
        return read.Completion.Task.WaitAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await Task.WhenAll(Enumerable.Range(0, Batched ? Loops : 0).Select(_ => ServeAsync(stoppingToken)));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            _reads.Writer.TryComplete();
            while (_reads.Reader.TryRead(out var read))
            {
                read.Completion.TrySetCanceled(stoppingToken);
            }
        }
    }

    private async Task ServeAsync(CancellationToken stoppingToken)
    {
        var batch = new List<PendingRead>(BatchMax);
        while (await _reads.Reader.WaitToReadAsync(stoppingToken))
        {
            batch.Clear();
            while (batch.Count < BatchMax && _reads.Reader.TryRead(out var read))
            {
                batch.Add(read);
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
            var ids = batch.Select(read => read.BalanceId).ToHashSet(StringComparer.Ordinal);
            var found = await store.GetBalancesAsync(ids, stoppingToken);
            batch.ForEach(read => read.Completion.TrySetResult(found.GetValueOrDefault(read.BalanceId)));
        }
        catch (OperationCanceledException)
        {
            // Shutting down: no read taken here may be left waiting.
            batch.ForEach(read => read.Completion.TrySetCanceled());
            throw;
        }
        catch (Exception exception)
        {
            logger.LogWarning(exception, "Reading {Count} balances failed", batch.Count);
            batch.ForEach(read => read.Completion.TrySetException(exception));
        }
    }

    private sealed record PendingRead(string BalanceId)
    {
        public TaskCompletionSource<Balance?> Completion { get; } =
            new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
