using Blnk.Storage;

namespace Blnk.Server.Features.History;

/// <summary>
/// Takes today's balance snapshots in the background, one database transaction per batch, walking the
/// balances in id order. One run at a time per process: a request during a run asks for one more run
/// afterwards (so balances created meanwhile are covered) instead of starting a second walker. Runs in
/// several processes are harmless: a balance already snapshotted today is skipped, and the
/// (balance, day) unique index settles any race.
/// </summary>
public sealed class BalanceSnapshotRunner(ILedgerStore store, TimeProvider clock, ILogger logger,
    CancellationToken stopping)
{
    /// <summary>
    /// The largest batch actually used: a batch holds its balances' locks (all writes, on SQLite) while it
    /// copies them, so a huge <c>batch_size</c> must not stall transfers.
    /// </summary>
    public const int BatchSizeMax = 5000;

    private const int Idle = 0;
    private const int Running = 1;
    private const int RunningAndRequested = 2;

    private int _state = Idle;
    private int _batchSize = 1000;

    /// <summary>Starts a run, or asks the current one to run once more; returns at once.</summary>
    public void Request(int batchSize)
    {
        Volatile.Write(ref _batchSize, Math.Min(batchSize, BatchSizeMax));
        while (true)
        {
            var state = Volatile.Read(ref _state);
            var alreadyRequested = state == RunningAndRequested;
            if (alreadyRequested || (state == Running
                    && Interlocked.CompareExchange(ref _state, RunningAndRequested, Running) == Running))
            {
                return;
            }
            if (state == Idle && Interlocked.CompareExchange(ref _state, Running, Idle) == Idle)
            {
                _ = Task.Run(RunAsync, CancellationToken.None);
                return;
            }
        }
    }

    private async Task RunAsync()
    {
        do
        {
            try
            {
                var (balances, batches) = await SnapshotAllAsync();
                logger.LogInformation("Balance snapshots taken: {Balances} balances in {Batches} batches",
                    balances, batches);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                Volatile.Write(ref _state, Idle);
                return;
            }
            catch (Exception exception)
            {
                // The next request starts over; balances done so far keep their snapshot for today.
                logger.LogError(exception, "Balance snapshots failed");
            }
        }
        // Stop when no request came in during the run; otherwise clear the request and run once more.
        while (Interlocked.CompareExchange(ref _state, Idle, Running) != Running
            && Interlocked.Exchange(ref _state, Running) == RunningAndRequested);
    }

    private async Task<(int Balances, int Batches)> SnapshotAllAsync()
    {
        var (balances, batches) = (0, 0);
        string? after = null;
        do
        {
            var batch = await store.SnapshotBalancesAsync(after, Volatile.Read(ref _batchSize), Clock.Now(clock),
                stopping);
            balances += batch.Inserted;
            batches += batch.LastBalanceId is null ? 0 : 1;
            after = batch.LastBalanceId;
        }
        while (after is not null);
        return (balances, batches);
    }
}
