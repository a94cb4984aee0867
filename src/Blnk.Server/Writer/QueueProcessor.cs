using Blnk.Core.Transactions;
using Blnk.Storage;

namespace Blnk.Server.Writer;

/// <summary>
/// Applies queued (and due scheduled) transactions: leases a batch of queue entries from the
/// database, hands each to the writer as a <c>_q</c> child, and waits for the outcomes. Several
/// processes may run it on one PostgreSQL database: leases are taken with SKIP LOCKED and the
/// writer removes each entry in the same database transaction that writes its outcome, so each
/// queued transaction is applied exactly once. A crash leaves the entry, which is leased again
/// when its lease runs out.
/// </summary>
public sealed class QueueProcessor(ILedgerStore store, LedgerWriter writer, QueueSignal signal, IdGenerator ids,
    TimeProvider clock, ILogger<QueueProcessor> logger) : BackgroundService
{
    private const int ClaimBatchSizeMax = 1000;
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan IdlePoll = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan ErrorPause = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await ProcessDueAsync(stoppingToken) == 0)
                {
                    await signal.WaitAsync(IdlePoll, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                logger.LogError(exception, "Queue processing failed; the leased entries will be retried");
                await Task.Delay(ErrorPause, clock, stoppingToken);
            }
        }
    }

    private async Task<int> ProcessDueAsync(CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var queued = await store.ClaimQueuedAsync(ClaimBatchSizeMax, now, now + Lease, cancellationToken);
        var writes = new List<TransactionWrite>(queued.Count);
        foreach (var row in queued)
        {
            var write = new TransactionWrite { Mode = WriteMode.ApplyQueued, Row = ChildOf(row) };
            await writer.SubmitAsync(write, cancellationToken);
            writes.Add(write);
        }
        await Task.WhenAll(writes.Select(write => write.Completion));
        return queued.Count;
    }

    /// <summary>The row that records a queued transaction's outcome (contract §6.2, decision 3).</summary>
    private TransactionRecord ChildOf(TransactionRecord queued) => queued with
    {
        TransactionId = ids.New(IdGenerator.TransactionPrefix),
        ParentTransaction = queued.TransactionId,
        Reference = queued.Reference + "_q",
        CreatedAt = Clock.Now(clock),
    };
}
