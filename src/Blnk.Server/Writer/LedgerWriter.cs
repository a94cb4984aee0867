using System.Diagnostics;
using System.Threading.Channels;
using Blnk.Core;
using Blnk.Core.Balances;
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
/// reference is unique by index, and a conflicting batch is retried whole. A batch of plain transfers, commits and
/// voids whose balances and holds the writer remembers (<see cref="RememberedBalances"/>) skips the locking read:
/// its update applies only to rows still as remembered, and otherwise the batch runs again from locked reads.
/// </remarks>
public sealed class LedgerWriter(ILedgerStore store, QueueSignal queueSignal, WriterOptions options, IdGenerator ids,
    MonitorRegistry monitors, EventOutbox eventOutbox, WriterMetrics metrics, TimeProvider clock,
    ILogger<LedgerWriter> logger)
    : BackgroundService
{
    private const int ConflictAttemptsMax = 5;

    /// <summary>
    /// Queued and background work tops a batch up only to this many operations (one claim's worth), however large
    /// the batch size: requests waiting behind a batch should not wait for thousands of queued applies, which can
    /// as well run in the next batch. Measured: with the batch size at 8,000 and no such bound, W6's accept p99 rose
    /// from 2.3–2.9 to 4.7–5.5 s.
    /// </summary>
    internal const int BackgroundOperationsMax = 1000;

    private readonly RememberedBalances _remembered = new(options.RememberedBalances);

    private readonly Channel<WriteUnit> _requests = Channel.CreateBounded<WriteUnit>(
        new BoundedChannelOptions(options.QueueSize) { FullMode = BoundedChannelFullMode.Wait });

    private readonly Channel<WriteUnit> _background = Channel.CreateBounded<WriteUnit>(
        new BoundedChannelOptions(options.QueueSize) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    /// <summary>
    /// Queued transactions this process accepted, leased to it at once and applied next by the first loop, so
    /// that no claim has to find them. Unbounded, but a batch hands off only while it holds fewer than the queue
    /// size and claims are not behind (<see cref="HandoffOf"/>); the rest wait for a claim, as before. Not
    /// single-reader: that kind of channel cannot count what it holds.
    /// </summary>
    private readonly Channel<WriteUnit> _handoffs = Channel.CreateUnbounded<WriteUnit>();

    /// <summary>
    /// Counts the batches that left accepted entries to claims (no room to hand them off); claims are behind until
    /// a claim that started after the last of them found nothing left (<see cref="ClaimsCaughtUp"/>). Meanwhile
    /// nothing is handed off, so a newer transaction never overtakes a claimed one: first in, first out.
    /// </summary>
    private long _leftToClaims;

    private long _claimsCaughtUpTo;

    private bool _keepsUp = true;

    // The first loop's pending waits on its channels (only that loop takes handed-off and background units).
    private Task<bool>? _requestsWait;
    private Task<bool>? _handoffsWait;
    private Task<bool>? _backgroundWait;

    /// <summary>
    /// The hold's row when an inflight action on its id acts on it alone (see
    /// <see cref="RememberedBalances.RecallLoneHold"/>), so the request need not look its family up.
    /// </summary>
    public TransactionRecord? RecallLoneHold(string holdId) => _remembered.RecallLoneHold(holdId);

    /// <summary>Read before a claim, and passed to <see cref="ClaimsCaughtUp"/> if the claim finds nothing.</summary>
    public long LeftToClaims => Interlocked.Read(ref _leftToClaims);

    /// <summary>
    /// A claim that started at <paramref name="leftToClaims"/> found no entry left and none is in flight: every entry
    /// left to claims before it is applied. Called by the one queue processor, with marks read in order.
    /// </summary>
    public void ClaimsCaughtUp(long leftToClaims) => Interlocked.Exchange(ref _claimsCaughtUpTo, leftToClaims);

    /// <summary>
    /// Whether the first loop's last batch took every request waiting: a request sent now is likely applied in the
    /// next batch. A hint, read without a lock; nothing depends on it for correctness.
    /// </summary>
    public bool KeepsUp => Volatile.Read(ref _keepsUp);

    private bool ClaimsBehind => Interlocked.Read(ref _leftToClaims) > Interlocked.Read(ref _claimsCaughtUpTo);

    /// <summary>Offers a unit from a request; false when the queue is full (the caller answers 503).</summary>
    public bool TrySubmit(WriteUnit unit) => _requests.Writer.TryWrite(unit);

    /// <summary>
    /// Submits a unit from background work (queued transactions, inflight actions), waiting for room instead of
    /// refusing. Background units are applied by one loop, in the order submitted.
    /// </summary>
    public ValueTask SubmitAsync(WriteUnit unit, CancellationToken cancellationToken) =>
        _background.Writer.WriteAsync(unit, cancellationToken);

    /// <remarks>
    /// One loop by default. More (<c>transaction.writer_loops</c>, PostgreSQL) are as safe together as several
    /// server processes are (row locks in id order, unique references, retry), but batches sharing balances
    /// wait for each other's commit, so they only pay when concurrent batches rarely share balances.
    /// </remarks>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await Task.WhenAll(Enumerable.Range(0, options.Loops)
                .Select(loop => RunLoopAsync(takesBackground: loop == 0, stoppingToken)));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            FailWaiting();
        }
    }

    private async Task RunLoopAsync(bool takesBackground, CancellationToken stoppingToken)
    {
        var batch = new List<WriteUnit>();
        while (await WaitForWorkAsync(takesBackground, stoppingToken))
        {
            batch.Clear();
            // Requests first: an accept should not wait behind queued work being applied.
            var operations = Drain(_requests.Reader, batch, 0, options.BatchSize);
            // Took every request waiting: the writer keeps up, and may apply what it accepts at once.
            var keepsUp = operations < options.BatchSize;
            if (takesBackground)
            {
                Volatile.Write(ref _keepsUp, keepsUp);
                var backgroundLimit = Math.Min(options.BatchSize, BackgroundOperationsMax);
                operations = Drain(_handoffs.Reader, batch, operations, backgroundLimit);
                Drain(_background.Reader, batch, operations, backgroundLimit);
            }
            if (batch.Count > 0)
            {
                await RunBatchAsync(batch, takesBackground && keepsUp, CancellationToken.None);
            }
        }
    }

    /// <summary>Takes units until the batch holds <paramref name="limit"/> operations; a unit is never split.</summary>
    private static int Drain(ChannelReader<WriteUnit> reader, List<WriteUnit> batch, int operations, int limit)
    {
        while (operations < limit && reader.TryRead(out var unit))
        {
            batch.Add(unit);
            operations += unit.Operations.Count;
        }
        return operations;
    }

    private async Task<bool> WaitForWorkAsync(bool takesBackground, CancellationToken stoppingToken)
    {
        if (!takesBackground)
        {
            return await _requests.Reader.WaitToReadAsync(stoppingToken);
        }
        if (_requests.Reader.TryPeek(out _) || _handoffs.Reader.TryPeek(out _) || _background.Reader.TryPeek(out _))
        {
            return true;
        }
        // A wait that has not fired yet is reused, so idle rounds never pile up waiters on a channel.
        _requestsWait = _requestsWait is { IsCompleted: false } ? _requestsWait
            : _requests.Reader.WaitToReadAsync(stoppingToken).AsTask();
        _handoffsWait = _handoffsWait is { IsCompleted: false } ? _handoffsWait
            : _handoffs.Reader.WaitToReadAsync(stoppingToken).AsTask();
        _backgroundWait = _backgroundWait is { IsCompleted: false } ? _backgroundWait
            : _background.Reader.WaitToReadAsync(stoppingToken).AsTask();
        await Task.WhenAny(_requestsWait, _handoffsWait, _backgroundWait);
        stoppingToken.ThrowIfCancellationRequested();
        return true;
    }

    /// <summary>
    /// Runs a batch to its end. <c>mayApplyWithAccept</c>: the first loop took every request waiting, so it may
    /// apply the queued transactions it accepts in the same batch (<see cref="HandoffOf"/>).
    /// </summary>
    private async Task RunBatchAsync(List<WriteUnit> batch, bool mayApplyWithAccept,
        CancellationToken cancellationToken)
    {
        var mayRecall = batch.All(IsPlain);
        for (var attempt = 1; ; attempt++)
        {
            // A plain batch decides from the balances its posts name and the holds it resolves, with their balances.
            var recalled = mayRecall ? _remembered.TryRecall(PostedBalanceIds(batch), ResolvedHoldIds(batch)) : null;
            try
            {
                var outcomes = await ApplyBatchAsync(batch, recalled, mayApplyWithAccept, cancellationToken);
                for (var i = 0; i < batch.Count; i++)
                {
                    batch[i].Complete(outcomes[i]);
                }
                return;
            }
            catch (Exception exception) when (recalled is not null)
            {
                // It decided from remembered balances (and looked up no reference): before anything is concluded,
                // it runs again from locked reads, and remembers nothing for a while.
                _remembered.ForgetAll();
                mayRecall = false;
                logger.LogDebug("Writer batch of {Count} failed ({Message}); running it again from locked reads",
                    batch.Count, exception.Message);
            }
            catch (Exception exception) when (attempt < ConflictAttemptsMax && store.IsRetryableConflict(exception))
            {
                logger.LogInformation("Writer batch of {Count} conflicted ({Message}); retrying", batch.Count,
                    exception.Message);
            }
            catch (Exception exception) when (batch.Count > 1 && !IsBroken(exception))
            {
                // One item the database refuses must not fail the others: halve until it stands alone.
                logger.LogWarning("Writer batch of {Count} failed ({Message}); retrying it in halves", batch.Count,
                    exception.Message);
                await RunBatchAsync(batch[..(batch.Count / 2)], mayApplyWithAccept, cancellationToken);
                await RunBatchAsync(batch[(batch.Count / 2)..], mayApplyWithAccept, cancellationToken);
                return;
            }
            catch (Exception exception)
            {
                var level = IsBroken(exception) ? LogLevel.Critical : LogLevel.Error;
                logger.Log(level, exception, "Writer batch of {Count} failed; nothing of it was committed",
                    batch.Count);
                batch.ForEach(unit => unit.Fail(exception));
                await ReportSystemErrorAsync($"writer batch of {batch.Count} failed: {exception.Message}");
                return;
            }
        }
    }

    /// <summary>
    /// A broken invariant: an assertion, or a balance row that changed while this batch held its lock.
    /// </summary>
    private static bool IsBroken(Exception exception) => exception is InvariantException or StaleBalanceException;

    /// <summary>
    /// Decides and commits the batch, from <paramref name="recalled"/> balances and holds when given, else from locked
    /// reads.
    /// </summary>
    private async Task<UnitOutcome[]> ApplyBatchAsync(List<WriteUnit> batch, BatchReads? recalled,
        bool mayApplyWithAccept, CancellationToken cancellationToken)
    {
        var startedAt = Stopwatch.GetTimestamp();
        metrics.RecordUnits(batch.Count);
        await using var dbBatch = await store.BeginWriteBatchAsync(cancellationToken);
        var now = Clock.Now(clock);
        var handoff = HandoffOf(now, mayApplyWithAccept);
        var reads = recalled ?? await ReadLockedAsync(dbBatch, batch, now, handoff.ApplyWithAccept, cancellationToken);
        var readVersions = reads.Balances.Values.ToDictionary(balance => balance.BalanceId,
            balance => balance.Version, StringComparer.Ordinal);
        var holds = reads.Holds.Values.ToDictionary(row => row.TransactionId,
            row => new Hold(row, reads.HoldProgress[row.TransactionId].Committed,
                reads.HoldProgress[row.TransactionId].Voided),
            StringComparer.Ordinal);
        var plan = new BatchPlan(reads, holds, () => ids.New(IdGenerator.ActionPrefix), monitors.ForBalance,
            handoff);
        var decidingAt = metrics.RecordPhase("read", startedAt);
        var outcomes = batch.Select(plan.Decide).ToArray();
        plan.ApplyAccepted(() => ids.New(IdGenerator.TransactionPrefix));
        var writingAt = metrics.RecordPhase("decide", decidingAt);
        // Recalled balances were not locked: every one the batch decided from is checked by the update, even one
        // it did not change (a refusal for want of funds must rest on the stored balance too), unless the batch
        // only accepted queued transactions (and applied none), which rest on what never changes (a balance exists;
        // its currency).
        // The update goes first, so its row locks are held before any row is inserted: a row's seq is then taken
        // under its balances' locks, as with locked reads, which is what balance snapshots rely on.
        IEnumerable<Balance> decidedFrom = recalled is null ? plan.TouchedBalances.Values
            : batch.All(IsAcceptOnly) && plan.AppliedWithAccept.Count == 0 ? []
            : reads.Balances.Values;
        await dbBatch.UpdateBalancesAsync(
            [.. decidedFrom.Select(balance => new BalanceWrite(balance, readVersions[balance.BalanceId]))],
            cancellationToken);
        await dbBatch.InsertTransactionsAsync(plan.Rows, cancellationToken);
        await dbBatch.EnqueueAsync(plan.QueueEntries, cancellationToken);
        await dbBatch.ScheduleInflightActionsAsync(plan.ScheduledActions, cancellationToken);
        await dbBatch.AppendLineageWorkAsync(plan.LineageWork, now, cancellationToken);
        await dbBatch.SettleLineageAsync(plan.LineageSettlements, cancellationToken);
        await dbBatch.AppendOutboxAsync(Events(plan, batch, outcomes), now, cancellationToken);
        var committingAt = metrics.RecordPhase("write", writingAt);
        await dbBatch.CommitAsync(cancellationToken);
        metrics.RecordPhase("commit", committingAt);
        _remembered.Remember(reads.Balances.Values, readVersions, HoldsAfter(plan, holds));
        if (plan.LeftToClaims)
        {
            Interlocked.Increment(ref _leftToClaims);
        }
        HandOff(plan.HandedOff);
        if (plan.QueueEntries.Count > plan.HandedOff.Count || plan.ScheduledActions.Count > 0)
        {
            queueSignal.Notify();
        }
        return outcomes;
    }

    /// <summary>
    /// How many queued transactions a batch deciding at <paramref name="now"/> may hand off, and whether it applies
    /// them itself instead: only when <paramref name="mayApplyWithAccept"/> and nothing accepted before them waits
    /// to be applied (no hand-off left outside the batch, claims not behind), so the queue stays first in, first
    /// out. Applied with its accept, a queued transaction costs no queue entry (its insert, locked read and delete)
    /// and no second batch; when the writer falls behind, accepts are answered first and applied after, as before.
    /// </summary>
    private QueueHandoff HandoffOf(DateTime now, bool mayApplyWithAccept)
    {
        var claimsBehind = ClaimsBehind;
        var waiting = _handoffs.Reader.Count;
        return new(now, now + QueuedTransactions.Lease, claimsBehind ? 0 : Math.Max(0, options.QueueSize - waiting),
            mayApplyWithAccept && !claimsBehind && waiting == 0);
    }

    /// <summary>
    /// Queues the committed, leased entries for the first loop. A unit that cannot be queued (the server is
    /// stopping) or fails is applied by a claim once its lease runs out, or at once after a restart (a new owner).
    /// </summary>
    private void HandOff(List<TransactionRecord> queued)
    {
        foreach (var row in queued)
        {
            _handoffs.Writer.TryWrite(QueuedTransactions.ApplyUnit(row.TransactionId, [row],
                () => ids.New(IdGenerator.TransactionPrefix), Clock.Now(clock)));
        }
    }

    /// <summary>
    /// The batch's balances under their locks, with everything else it must read before deciding. Queued rows it
    /// may apply with their accept (<c>applyWithAccept</c>) have their children's references read too.
    /// </summary>
    private static Task<BatchReads> ReadLockedAsync(IWriteBatch dbBatch, List<WriteUnit> batch, DateTime now,
        bool applyWithAccept, CancellationToken cancellationToken)
    {
        var references = new HashSet<string>(StringComparer.Ordinal);
        foreach (var operation in batch.SelectMany(unit => unit.Operations))
        {
            if (operation is PostTransaction post)
            {
                references.Add(post.Row.Reference);
                if (applyWithAccept && post.Mode == PostMode.Enqueue)
                {
                    references.Add(QueuedTransactions.ChildReference(post.Row.Reference));
                }
            }
            else if (operation is ResolveInflight resolve)
            {
                references.Add(resolve.Reference);
            }
        }
        return dbBatch.ReadAsync(new BatchReadRequest(PostedBalanceIds(batch), ResolvedHoldIds(batch), references,
            [.. batch.Select(unit => unit.QueueEntryId).OfType<string>()],
            [.. batch.Select(unit => unit.InflightActionId).OfType<string>()],
            [.. batch.Select(unit => unit.LineageWorkSeq).OfType<long>()], now), cancellationToken);
    }

    /// <summary>The sources and destinations of the rows the batch posts (a hold's are found by the read).</summary>
    private static List<string> PostedBalanceIds(List<WriteUnit> batch) =>
        [.. batch.SelectMany(unit => unit.Operations).OfType<PostTransaction>()
            .SelectMany(post => new[] { post.Row.Source, post.Row.Destination }).Distinct(StringComparer.Ordinal)];

    private static List<string> ResolvedHoldIds(List<WriteUnit> batch) =>
        [.. batch.SelectMany(unit => unit.Operations).OfType<ResolveInflight>().Select(resolve => resolve.HoldId)
            .Distinct(StringComparer.Ordinal)];

    /// <summary>The holds the batch read and those it created, with their progress after it.</summary>
    private static IEnumerable<(TransactionRecord Row, HoldProgress Progress)> HoldsAfter(BatchPlan plan,
        Dictionary<string, Hold> read) =>
        read.Values.Select(hold => (Row: hold.Row, Progress: new HoldProgress(hold.Committed, hold.Voided)))
            .Concat(plan.Rows.Select(row => (Row: row, Progress: new HoldProgress(0, false))))
            .Where(hold => hold.Row.Status == TransactionStatus.Inflight);

    /// <summary>A unit that only stores queued (or scheduled) transactions, for real.</summary>
    private static bool IsAcceptOnly(WriteUnit unit) =>
        !unit.DryRun && unit.Operations.All(operation => operation is PostTransaction { Mode: PostMode.Enqueue });

    /// <summary>
    /// A unit that only posts new rows and commits or voids holds on request: it takes no queue entry, action or
    /// lineage work, so its batch may decide from remembered balances and holds.
    /// </summary>
    private static bool IsPlain(WriteUnit unit) =>
        unit is { QueueEntryId: null, InflightActionId: null, LineageWorkSeq: null, LineageSettlement: null }
        && unit.Operations.All(operation => operation is PostTransaction or ResolveInflight);

    /// <summary>The webhook, callback and hook deliveries the batch's changes cause (none when nobody listens).</summary>
    private List<OutboxEvent> Events(BatchPlan plan, List<WriteUnit> batch, UnitOutcome[] outcomes)
    {
        var events = new List<OutboxEvent>();
        if (eventOutbox.WantsTransactions)
        {
            plan.Rows.ForEach(row => eventOutbox.AddTransaction(events, row));
        }
        plan.FiredMonitors.ForEach(monitor => eventOutbox.AddMonitor(events, monitor));
        for (var i = 0; i < batch.Count; i++)
        {
            if (batch[i].OutcomeEvents is { } outcomeEvents && !batch[i].DryRun && !outcomes[i].AlreadyProcessed)
            {
                events.AddRange(outcomeEvents(outcomes[i]));
            }
        }
        return events;
    }

    /// <summary>§8.1 <c>system.error</c>, best effort: the database may be what failed.</summary>
    private async Task ReportSystemErrorAsync(string error)
    {
        try
        {
            await store.AppendOutboxAsync(eventOutbox.SystemError(error, Clock.Now(clock)), Clock.Now(clock),
                CancellationToken.None);
        }
        catch (Exception exception)
        {
            logger.LogWarning(exception, "Could not record a system.error event");
        }
    }

    private void FailWaiting()
    {
        foreach (var channel in new[] { _requests, _handoffs, _background })
        {
            channel.Writer.TryComplete();
            while (channel.Reader.TryRead(out var unit))
            {
                unit.Fail(new OperationCanceledException("the server is shutting down"));
            }
        }
    }
}

/// <summary>
/// Writer limits: the items of one database transaction, the bounded queue in front of the writer, and how many
/// batches may be in flight at once (1 on SQLite, whose single write lock serialises them anyway), and how many
/// balances it remembers (<see cref="RememberedBalances"/>; 0 turns that off).
/// </summary>
public sealed record WriterOptions(int BatchSize, int QueueSize, int Loops = 1, int RememberedBalances = 0);

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
