using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;

namespace Blnk.Bench;

/// <summary>What one <c>run</c> does: the options, then W1–W7 of WORKLOADS.md against one server.</summary>
internal sealed record RunOptions(
    string Storage,
    IReadOnlyList<string> Workloads,
    TimeSpan Duration,
    TimeSpan Warmup,
    int Concurrency,
    double ReadRate,
    double? WriteRate,
    long QueuedCount,
    double? QueuedRate,
    int Balances,
    int VerifySample,
    int? ServerPid,
    ReferenceKind References = ReferenceKind.Sequential,
    bool QueuedCommits = false);

internal sealed class Workloads(Ledger api, RunOptions options)
{
    private const long FundingCents = 1_000_000_000;         // 10,000,000.00 per balance
    private const long HotFundingCents = 10_000_000_000_000; // the hot balance pays for every W3 debit
    private const long AmountCentsMax = 10_000;              // transfers of 0.01 … 100.00
    private const int BulkLines = 1000;                      // W4: transfers per POST /transactions/bulk
    private const int BulkConcurrency = 4;                   // W4: bulk requests in flight
    private static readonly ParallelOptions Parallel32 = new() { MaxDegreeOfParallelism = 32 };
    private readonly string _tag = Convert.ToHexString(Guid.NewGuid().ToByteArray()[..3]);

    /// <summary>Books set up per workload so far: a workload named twice in a run gets a book of its own.</summary>
    private readonly Dictionary<string, int> _setUps = [];
    private readonly List<WorkloadResult> _done = [];

    public IReadOnlyList<WorkloadResult> Done => _done;

    public async Task RunAsync(string workload)
    {
        var results = workload switch
        {
            "W1" => [await ClosedAsync("W1", "single-transfer latency", 1, Uniform)],
            "W2" => [await ClosedAsync("W2", "uniform throughput", options.Concurrency, Uniform)],
            "W3" => [await ClosedAsync("W3-debit", "hot account, every transfer debits it", options.Concurrency,
                    HotSource),
                await ClosedAsync("W3-credit", "hot account, every transfer credits it", options.Concurrency,
                    HotDestination)],
            "W4" => [await BulkAsync()],
            "W5" => [await ReadsUnderWritesAsync()],
            "W6" => [await QueuedAsync()],
            "W7" => new[] { await InflightPairsAsync() },
            _ => throw new ArgumentException($"unknown workload '{workload}': use W1, W2, W3, W4, W5, W6, W7"),
        };
        _done.AddRange(results);
    }

    private (int, int) Uniform() => RandomPair(options.Balances);

    /// <summary>Two different balances of <paramref name="balances"/>, uniformly at random.</summary>
    internal static (int, int) RandomPair(int balances)
    {
        var source = Random.Shared.Next(balances);
        return (source, (source + 1 + Random.Shared.Next(balances - 1)) % balances);
    }

    private (int, int) HotSource() => (0, 1 + Random.Shared.Next(options.Balances - 1));

    private (int, int) HotDestination() => (1 + Random.Shared.Next(options.Balances - 1), 0);

    private string Label(string workload) => $"{workload} {options.Storage}";

    private async Task<Book> SetUpAsync(string workload, bool hot)
    {
        var code = workload.Replace("-DEBIT", "D", StringComparison.OrdinalIgnoreCase)
            .Replace("-CREDIT", "C", StringComparison.OrdinalIgnoreCase);
        var repeat = _setUps[code] = _setUps.GetValueOrDefault(code) + 1;
        if (repeat > 1)
        {
            code += string.Create(CultureInfo.InvariantCulture, $"R{repeat}");
        }
        var started = Stopwatch.GetTimestamp();
        var book = await Book.CreateAsync(api, $"B{_tag}{code}", $"bench-{_tag}-{code}-", options.Balances,
            i => hot && i == 0 ? HotFundingCents : FundingCents, options.References);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"[{Label(workload)}] {options.Balances:N0} balances in {book.Currency} created and funded in {Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s"));
        return book;
    }

    /// <summary>A POST /transactions between two of the book's balances, recorded for verification.</summary>
    private Func<Task<bool>> Transfer(Book book, Tally tally, bool skipQueue, Func<(int, int)> pick) => async () =>
    {
        var (source, destination) = pick();
        var cents = Random.Shared.NextInt64(1, AmountCentsMax + 1);
        var (sequence, reference) = book.NextReference();
        var body = Ledger.TransferBody(cents, book.Currency, reference, book.Ids[source], book.Ids[destination],
            allowOverdraft: false, skipQueue);
        var reply = await api.PostTransferAsync(body);
        if (reply.Status == 201)
        {
            book.Acknowledged(new Ack(sequence, reference, source, destination, cents));
            tally.Succeeded();
            return true;
        }
        if (reply.Status == 0)
        {
            book.Unanswered(cents);
        }
        tally.Fail("POST /transactions " + Encoding.UTF8.GetString(body), reply);
        return false;
    };

    /// <summary>W1, W2, W3: closed loop of transfers, then verification.</summary>
    private async Task<WorkloadResult> ClosedAsync(string workload, string title, int concurrency,
        Func<(int, int)> pick)
    {
        var result = new WorkloadResult { Workload = workload, Title = title, Storage = options.Storage };
        return await GuardAsync(result, async () =>
        {
            var book = await SetUpAsync(workload, hot: workload.StartsWith("W3", StringComparison.Ordinal));
            var tally = new Tally();
            var cpu = new CpuMeter(options.ServerPid);
            Timing timing;
            await using (new ProgressLine(Label(workload), ProgressLine.Rate(tally)))
            {
                timing = await Load.ClosedLoopAsync(concurrency, options.Warmup, options.Duration,
                    Transfer(book, tally, skipQueue: true, pick));
            }
            Record(result, cpu);
            if (workload == "W2" && CpuMeter.ServerRssMb(options.ServerPid) is { } rss)
            {
                result.Metrics["server_rss_mb"] = rss;
            }
            result.Throughput = timing.Rate;
            result.P50Ms = timing.PercentileMs(50);
            result.P99Ms = timing.PercentileMs(99);
            result.Ok = timing.WindowOk;
            Late(result, timing);
            Tallied(result, tally);
            await VerifyAsync(result, book, "");
        });
    }

    /// <summary>
    /// W4: closed loop of <c>POST /transactions/bulk</c>, <see cref="BulkConcurrency"/> requests in flight, each of
    /// <see cref="BulkLines"/> transfers with <c>skip_queue</c>. Only a 201 <c>applied</c> with every line counts;
    /// throughput is lines per second, latency per request.
    /// </summary>
    private async Task<WorkloadResult> BulkAsync()
    {
        var result = new WorkloadResult { Workload = "W4", Title = "bulk", Storage = options.Storage };
        return await GuardAsync(result, async () =>
        {
            var book = await SetUpAsync("W4", hot: false);
            var lines = new Tally();
            var expectedCount = BulkLines.ToString(CultureInfo.InvariantCulture);
            Func<Task<bool>> bulk = async () =>
            {
                var batch = new Ack[BulkLines];
                long cents = 0;
                for (var i = 0; i < batch.Length; i++)
                {
                    var (source, destination) = Uniform();
                    var (sequence, reference) = book.NextReference();
                    batch[i] = new Ack(sequence, reference, source, destination,
                        Random.Shared.NextInt64(1, AmountCentsMax + 1));
                    cents += batch[i].Cents;
                }
                var body = Ledger.BulkBody(book.Currency, batch, book.Ids);
                var reply = await api.PostBulkAsync(body);
                if (reply.Status == 201 &&
                    Ledger.Fields(reply.Body, "status", "transaction_count", "batch_id") is
                        ["applied", var count, { Length: > 0 }] && count == expectedCount)
                {
                    foreach (var line in batch)
                    {
                        book.Acknowledged(line);
                    }
                    lines.Succeeded(batch.Length);
                    return true;
                }
                // Refused or unanswered: a non-atomic bulk keeps the lines before the one refused, so any of
                // them may have been applied; verification allows for them but does not expect them.
                book.Unanswered(cents);
                lines.Fail(BulkRequestText(body, batch.Length), reply);
                return false;
            };
            var cpu = new CpuMeter(options.ServerPid);
            Timing timing;
            await using (new ProgressLine(Label("W4"), ProgressLine.Rate(lines, "lines ")))
            {
                timing = await Load.ClosedLoopAsync(BulkConcurrency, options.Warmup, options.Duration, bulk);
            }
            Record(result, cpu);
            result.Throughput = timing.Rate * BulkLines;
            result.P50Ms = timing.PercentileMs(50);
            result.P99Ms = timing.PercentileMs(99);
            result.Ok = timing.WindowOk * BulkLines;
            result.Metrics["requests_per_s"] = timing.Rate;
            result.Metrics["lines_per_request"] = BulkLines;
            result.Metrics["requests_in_flight"] = BulkConcurrency;
            Late(result, timing);
            Tallied(result, lines);
            await VerifyAsync(result, book, "");
        });
    }

    /// <summary>A failed bulk request as sent, shortened: its first line in full and how many lines followed.</summary>
    private static string BulkRequestText(byte[] body, int lines)
    {
        var text = Encoding.UTF8.GetString(body);
        var firstLineEnd = text.IndexOf("},{", StringComparison.Ordinal);
        return firstLineEnd < 0
            ? "POST /transactions/bulk " + text
            : string.Create(CultureInfo.InvariantCulture,
                $"POST /transactions/bulk {text[..(firstLineEnd + 1)]},… {lines - 1:N0} more lines of the same shape],\"skip_queue\":true}}");
    }

    /// <summary>
    /// W7: each worker holds (<c>POST /transactions</c> with <c>inflight</c>, 201 INFLIGHT), then commits the hold
    /// (<c>PUT /transactions/inflight/{id}</c>, 200, a new APPLIED row whose parent is the hold); a pair counts
    /// when both succeeded. Throughput is pairs per second, latency per pair.
    /// </summary>
    private async Task<WorkloadResult> InflightPairsAsync()
    {
        var result = new WorkloadResult { Workload = "W7", Title = "inflight pairs", Storage = options.Storage };
        return await GuardAsync(result, async () =>
        {
            var book = await SetUpAsync("W7", hot: false);
            var pairs = new Tally();
            var holdFailures = 0L;
            var commitFailures = 0L;
            var stuckCents = 0L;       // held, commit refused: still inflight
            var maybeStuckCents = 0L;  // held or committed without a clear answer: perhaps still inflight
            var commitBody = options.QueuedCommits ? Ledger.QueuedCommitBody : Ledger.CommitBody;
            Func<Task<bool>> pair = async () =>
            {
                var (source, destination) = Uniform();
                var cents = Random.Shared.NextInt64(1, AmountCentsMax + 1);
                var (sequence, reference) = book.NextReference();
                var hold = Ledger.TransferBody(cents, book.Currency, reference, book.Ids[source],
                    book.Ids[destination], allowOverdraft: false, skipQueue: true, inflight: true);
                var held = await api.PostTransferAsync(hold);
                var holdFields = held.Status == 201
                    ? Ledger.Fields(held.Body, "status", "transaction_id", "precise_amount")
                    : null;
                if (holdFields is not ["INFLIGHT", { Length: > 0 }, var heldAmount] ||
                    heldAmount != cents.ToString(CultureInfo.InvariantCulture))
                {
                    if (held.Status is 0 or 201)
                    {
                        // No answer, or a 201 that is not the hold sent: it may hold, or even move, the amount.
                        Interlocked.Add(ref maybeStuckCents, cents);
                        book.Unanswered(cents);
                    }
                    Interlocked.Increment(ref holdFailures);
                    pairs.Fail("POST /transactions " + Encoding.UTF8.GetString(hold), held);
                    return false;
                }
                var holdId = holdFields[1]!;
                var path = "/transactions/inflight/" + holdId;
                var committed = await api.PutAsync(path, commitBody);
                if (CommitReferenceOf(committed, holdId, cents) is { } commitReference)
                {
                    book.Acknowledged(new Ack(sequence, reference, source, destination, cents, holdId,
                        commitReference));
                    pairs.Succeeded();
                    return true;
                }
                if (committed.Status is 0 or 200)
                {
                    Interlocked.Add(ref maybeStuckCents, cents);
                    book.Unanswered(cents);
                }
                else
                {
                    Interlocked.Add(ref stuckCents, cents);
                }
                Interlocked.Increment(ref commitFailures);
                pairs.Fail($"PUT {path} {Encoding.UTF8.GetString(commitBody)} (hold {reference}, 201 {Encoding.UTF8.GetString(held.Body)})",
                    committed);
                return false;
            };
            var cpu = new CpuMeter(options.ServerPid);
            Timing timing;
            await using (new ProgressLine(Label("W7"), ProgressLine.Rate(pairs, "pairs ")))
            {
                timing = await Load.ClosedLoopAsync(options.Concurrency, options.Warmup, options.Duration, pair);
            }
            Record(result, cpu);
            result.Throughput = timing.Rate;
            result.P50Ms = timing.PercentileMs(50);
            result.P99Ms = timing.PercentileMs(99);
            result.Ok = timing.WindowOk;
            result.Metrics["hold_failures"] = holdFailures;
            result.Metrics["commit_failures"] = commitFailures;
            Late(result, timing);
            Tallied(result, pairs);
            if (options.QueuedCommits)
            {
                await WaitForQueuedCommitsAsync(book, stuckCents + maybeStuckCents);
            }
            await VerifyAsync(result, book, ack => PairStoredAsync(ack, book),
                options.QueuedCommits
                    ? "holds INFLIGHT as sent, their queued commits checked through the balances"
                    : "holds INFLIGHT with their commit APPLIED as sent",
                (states, world, problems) => InflightSettled(states, world, problems, stuckCents, maybeStuckCents));
        });
    }

    /// <summary>
    /// The reference of the commit a W7 pair's PUT answered, or null when it is not the hold's commit in full. A
    /// queued commit (<c>--commits queued</c>) answers the hold marked <c>"queued": true</c>, not the commit: its
    /// reference is "" and the balances vouch for it.
    /// </summary>
    private string? CommitReferenceOf(Reply committed, string holdId, long cents)
    {
        if (committed.Status != 200)
        {
            return null;
        }
        var amount = cents.ToString(CultureInfo.InvariantCulture);
        if (options.QueuedCommits)
        {
            return Ledger.Fields(committed.Body, "status", "transaction_id", "precise_amount", "queued")
                is ["INFLIGHT", var id, var held, "true"] && id == holdId && held == amount ? "" : null;
        }
        return Ledger.Fields(committed.Body, "status", "parent_transaction", "precise_amount", "reference")
            is ["APPLIED", var parent, var committedAmount, { Length: > 0 } reference]
            && parent == holdId && committedAmount == amount ? reference : null;
    }

    /// <summary>
    /// A queued commit may be applied after its answer: waits, up to 30 s, until the W7 balances hold no more than
    /// the failed pairs can have left held, so that the checks after it see every commit.
    /// </summary>
    private async Task WaitForQueuedCommitsAsync(Book book, long leftHeldCents)
    {
        var deadline = Stopwatch.GetTimestamp() + 30 * Stopwatch.Frequency;
        do
        {
            var states = await BalanceStatesAsync(book);
            if (states.Aggregate(BigInteger.Zero, (sum, state) => sum + (state.InflightDebit ?? 0)) <= leftHeldCents)
            {
                return;
            }
            await Task.Delay(200);
        }
        while (Stopwatch.GetTimestamp() < deadline);
    }

    /// <summary>
    /// W7's balances after the run: every hold was committed in full, so the inflight sums are back at zero — on
    /// every balance when no commit failed, otherwise in total within what the failed pairs can explain.
    /// </summary>
    private static string InflightSettled(BalanceState[] states, BalanceState world, List<string> problems,
        long stuckCents, long maybeStuckCents)
    {
        var all = states.Append(world).ToList();
        if (all.FirstOrDefault(state => state.InflightDebit is null || state.InflightCredit is null) is { } missing)
        {
            problems.Add($"balance {missing.Id} answered without inflight_debit_balance or inflight_credit_balance");
            return "";
        }
        var debit = all.Aggregate(BigInteger.Zero, (sum, state) => sum + state.InflightDebit!.Value);
        var credit = all.Aggregate(BigInteger.Zero, (sum, state) => sum + state.InflightCredit!.Value);
        if (stuckCents == 0 && maybeStuckCents == 0)
        {
            var unsettled = all.Where(state => !state.InflightDebit!.Value.IsZero || !state.InflightCredit!.Value.IsZero)
                .ToList();
            if (unsettled.Count > 0)
            {
                problems.Add($"{unsettled.Count} balances still have inflight amounts after every hold was committed " +
                             $"(sum inflight_debit {debit}, inflight_credit {credit}), e.g. " + string.Join(", ",
                                 unsettled.Take(3).Select(state =>
                                     $"{state.Id}: inflight_debit {state.InflightDebit}, inflight_credit {state.InflightCredit}")));
            }
            return string.Create(CultureInfo.InvariantCulture,
                $"inflight debit and credit 0 on all {all.Count:N0} balances");
        }
        foreach (var (name, sum) in new[] { ("inflight_debit_balance", debit), ("inflight_credit_balance", credit) })
        {
            if (sum < stuckCents || sum > stuckCents + maybeStuckCents)
            {
                problems.Add($"sum of {name} is {sum}; the failed pairs leave {stuckCents} held" +
                             (maybeStuckCents > 0 ? $" (+ at most {maybeStuckCents} unanswered)" : ""));
            }
        }
        return $"inflight sums {debit}/{credit} = what the failed pairs left held";
    }

    /// <summary>
    /// A W7 pair as stored: the hold INFLIGHT as sent, and its commit APPLIED with the hold as parent (a queued
    /// commit, whose reference its answer does not give, is checked through the balances instead).
    /// </summary>
    private async Task<string?> PairStoredAsync(Ack ack, Book book)
    {
        var holdPath = "/transactions/reference/" + ack.Reference;
        var hold = await api.GetAsync(holdPath);
        if (hold.Status != 200)
        {
            return $"GET {holdPath} -> {hold.Status} {hold.Text}";
        }
        if (Mismatch(hold.Body, ack, book, "INFLIGHT") is { } holdProblem)
        {
            return $"GET {holdPath} -> {holdProblem}";
        }
        if (Ledger.Fields(hold.Body, "transaction_id") is [var id] && id != ack.HoldId)
        {
            return $"GET {holdPath} -> transaction_id {id}, the hold was created as {ack.HoldId}";
        }
        if (ack.CommitReference is "")
        {
            return null;
        }
        var commitPath = "/transactions/reference/" + ack.CommitReference;
        var commit = await api.GetAsync(commitPath);
        if (commit.Status != 200)
        {
            return $"GET {commitPath} (the commit of {ack.HoldId}) -> {commit.Status} {commit.Text}";
        }
        if (Mismatch(commit.Body, ack, book, "APPLIED") is { } commitProblem)
        {
            return $"GET {commitPath} (the commit of {ack.HoldId}) -> {commitProblem}";
        }
        return Ledger.Fields(commit.Body, "parent_transaction") is [var parent] && parent != ack.HoldId
            ? $"GET {commitPath} -> parent_transaction {parent}, expected the hold {ack.HoldId}"
            : null;
    }

    /// <summary>W5: reads at a fixed rate while writes run open loop at half of W2's measured maximum.</summary>
    private async Task<WorkloadResult> ReadsUnderWritesAsync()
    {
        var result = new WorkloadResult
        {
            Workload = "W5", Title = "reads under writes", Storage = options.Storage,
        };
        return await GuardAsync(result, async () =>
        {
            var w2 = _done.FirstOrDefault(done => done.Workload == "W2")?.Throughput;
            var writeRate = options.WriteRate ?? (w2 is > 0 ? w2.Value / 2 : 2000);
            var book = await SetUpAsync("W5", hot: false);
            var reads = new Tally();
            var writes = new Tally();
            Func<Task<bool>> read = async () =>
            {
                var path = "/balances/" + book.Ids[Random.Shared.Next(book.Ids.Length)];
                var reply = await api.GetAsync(path);
                if (reply.Status == 200)
                {
                    reads.Succeeded();
                    return true;
                }
                reads.Fail("GET " + path, reply);
                return false;
            };
            var cpu = new CpuMeter(options.ServerPid);
            Timing readTiming;
            Timing writeTiming;
            var rates = (Reads: ProgressLine.Rate(reads, "reads "), Writes: ProgressLine.Rate(writes, "writes "));
            await using (new ProgressLine(Label("W5"), elapsed => rates.Reads(elapsed) + "   " + rates.Writes(elapsed)))
            {
                var readTask = Load.OpenLoopAsync(options.ReadRate, long.MaxValue, options.Warmup, options.Duration,
                    1024, read);
                var writeTask = Load.OpenLoopAsync(writeRate, long.MaxValue, options.Warmup, options.Duration, 2048,
                    Transfer(book, writes, skipQueue: true, Uniform));
                readTiming = await readTask;
                writeTiming = await writeTask;
            }
            Record(result, cpu);
            result.Throughput = writeTiming.Rate;
            result.P50Ms = readTiming.PercentileMs(50);
            result.P99Ms = readTiming.PercentileMs(99);
            result.Ok = writeTiming.WindowOk;
            result.Metrics["read_p50_ms"] = result.P50Ms;
            result.Metrics["read_p99_ms"] = result.P99Ms;
            result.Metrics["read_rate"] = readTiming.Rate;
            result.Metrics["write_target_rate"] = writeRate;
            result.Metrics["write_p50_ms"] = writeTiming.PercentileMs(50);
            result.Metrics["write_p99_ms"] = writeTiming.PercentileMs(99);
            result.Metrics["write_loss"] = Math.Max(0, 1 - writeTiming.Rate / writeRate);
            result.Failures = reads.Failed + writes.Failed;
            result.Metrics["ok_total"] = writes.Ok;
            result.FailureSamples.AddRange(reads.Samples.Concat(writes.Samples));
            await VerifyAsync(result, book, "");
        });
    }

    /// <summary>W6: queued transfers (skip_queue false) at a fixed rate, then wait until all are applied.</summary>
    private async Task<WorkloadResult> QueuedAsync()
    {
        var result = new WorkloadResult { Workload = "W6", Title = "queued mode", Storage = options.Storage };
        return await GuardAsync(result, async () =>
        {
            var w2 = _done.FirstOrDefault(done => done.Workload == "W2")?.Throughput;
            var rate = options.QueuedRate ?? (w2 is > 0 ? w2.Value : 5000);
            var book = await SetUpAsync("W6", hot: false);
            var tally = new Tally();
            var cpu = new CpuMeter(options.ServerPid);
            var started = Stopwatch.GetTimestamp();
            Timing timing;
            await using (new ProgressLine(Label("W6") + " accept", ProgressLine.Rate(tally)))
            {
                timing = await Load.OpenLoopAsync(rate, options.QueuedCount, TimeSpan.Zero, TimeSpan.Zero, 2048,
                    Transfer(book, tally, skipQueue: false, Uniform));
            }
            var acceptSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            var acks = book.Acks();
            var drain = await DrainAsync(book, acks, started);
            Record(result, cpu);
            result.P50Ms = timing.PercentileMs(50);
            result.P99Ms = timing.PercentileMs(99);
            result.Ok = acks.Count;
            result.Throughput = acks.Count / drain.Seconds;
            result.Metrics["queued_rate_target"] = rate;
            result.Metrics["accept_rate"] = timing.Rate;
            result.Metrics["accept_seconds"] = acceptSeconds;
            result.Metrics["backlog_at_accept_end"] = drain.BacklogAtAcceptEnd;
            result.Metrics["drain_after_accept_s"] = drain.Seconds - acceptSeconds;
            result.Metrics["backlog_drain_rate"] = drain.Seconds - acceptSeconds > 0.05
                ? drain.BacklogAtAcceptEnd / (drain.Seconds - acceptSeconds)
                : double.NaN;
            Tallied(result, tally);
            await VerifyAsync(result, book, "_q");
        });
    }

    /// <summary>
    /// Polls until every accepted transfer's <c>_q</c> child exists: the last accepted reference's child often,
    /// a binary search over the accepted references (the queue is FIFO) each second for the progress line,
    /// and, to confirm, the queued sums of every balance (<c>?with_queued=true</c>) all back at zero.
    /// </summary>
    private async Task<(double Seconds, double BacklogAtAcceptEnd)> DrainAsync(Book book, List<Ack> acks,
        long started)
    {
        if (acks.Count == 0)
        {
            return (Stopwatch.GetElapsedTime(started).TotalSeconds, 0);
        }
        var backlog = acks.Count - await AppliedEstimateAsync(acks);
        long applied = acks.Count - backlog;
        var lastProgress = Stopwatch.GetTimestamp();
        var nextEstimate = Stopwatch.GetTimestamp();
        await using var progress = new ProgressLine(Label("W6") + " drain", _ => string.Create(
            CultureInfo.InvariantCulture, $"≈{Volatile.Read(ref applied),9:N0} of {acks.Count:N0} applied"));
        while (true)
        {
            if (await ExistsAsync(acks[^1].Reference + "_q"))
            {
                var seen = Stopwatch.GetElapsedTime(started).TotalSeconds;
                var settled = true;
                while (!await QueueSettledAsync(book))
                {
                    settled = false;
                    await Task.Delay(250);
                    if (Stopwatch.GetElapsedTime(lastProgress) > TimeSpan.FromSeconds(120))
                    {
                        throw new BenchException("drain stalled: the last transfer is applied but queued amounts " +
                                                 "stayed above zero for 120 s");
                    }
                }
                return (settled ? seen : Stopwatch.GetElapsedTime(started).TotalSeconds, backlog);
            }
            if (Stopwatch.GetTimestamp() >= nextEstimate)
            {
                var estimate = await AppliedEstimateAsync(acks);
                if (estimate > Volatile.Read(ref applied))
                {
                    lastProgress = Stopwatch.GetTimestamp();
                }
                Volatile.Write(ref applied, estimate);
                nextEstimate = Stopwatch.GetTimestamp() + Stopwatch.Frequency;
            }
            if (Stopwatch.GetElapsedTime(lastProgress) > TimeSpan.FromSeconds(120))
            {
                throw new BenchException(string.Create(CultureInfo.InvariantCulture,
                    $"drain stalled: about {Volatile.Read(ref applied):N0} of {acks.Count:N0} queued transfers applied, no progress for 120 s"));
            }
            await Task.Delay(100);
        }
    }

    /// <summary>How many accepted transfers have their <c>_q</c> child, by binary search (the queue is FIFO).</summary>
    private async Task<long> AppliedEstimateAsync(List<Ack> acks)
    {
        int low = 0, high = acks.Count; // children exist for [0, low), not known beyond high
        while (low < high)
        {
            var middle = low + (high - low) / 2;
            if (await ExistsAsync(acks[middle].Reference + "_q"))
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }
        return low;
    }

    private async Task<bool> ExistsAsync(string reference) =>
        (await api.GetAsync("/transactions/reference/" + reference)).Status == 200;

    internal async Task<bool> QueueSettledAsync(Book book)
    {
        var pending = 0;
        await Parallel.ForEachAsync(book.Ids, Parallel32, async (id, _) =>
        {
            var state = await api.GetBalanceAsync($"/balances/{id}?with_queued=true");
            if (!state.QueuedDebit.IsZero || !state.QueuedCredit.IsZero)
            {
                Interlocked.Increment(ref pending);
            }
        });
        return pending == 0;
    }

    /// <summary>
    /// (a) money is conserved: Σ balance over the book plus @World is 0, every balance = credit − debit, and @World
    /// is minus the funding; (b) what was acknowledged is what was applied: the book's debits equal the
    /// acknowledged amounts (plus at most the unanswered ones), and every acknowledged reference (or a random
    /// sample) reads back APPLIED with its amount, source and destination.
    /// </summary>
    private Task VerifyAsync(WorkloadResult result, Book book, string suffix) =>
        VerifyAsync(result, book, ack => StoredAsync(api, ack, book, suffix), $"references{suffix} APPLIED as sent",
            null);

    /// <summary>
    /// The acknowledged transfer read back by its reference (plus <paramref name="suffix"/>) from
    /// <paramref name="server"/>: null when it is stored APPLIED as sent, else what is wrong.
    /// </summary>
    internal static async Task<string?> StoredAsync(Ledger server, Ack ack, Book book, string suffix)
    {
        var path = "/transactions/reference/" + ack.Reference + suffix;
        var reply = await server.GetAsync(path);
        var problem = reply.Status != 200 ? $"{reply.Status} {reply.Text}" : Mismatch(reply.Body, ack, book);
        return problem is null ? null : $"GET {path} -> {problem}";
    }

    /// <summary>Every balance of the book as the server answers it now (not <c>@World</c>).</summary>
    private async Task<BalanceState[]> BalanceStatesAsync(Book book)
    {
        var states = new BalanceState[book.Ids.Length];
        await Parallel.ForEachAsync(Enumerable.Range(0, book.Ids.Length), Parallel32, async (i, _) =>
            states[i] = await api.GetBalanceAsync("/balances/" + book.Ids[i]));
        return states;
    }

    /// <summary>
    /// The checks above with the per-transfer check as <c>stored</c> (a sampled acknowledgement against what the
    /// server stored: null when right), <c>storedWhat</c> naming it for the report, and <c>balances</c> adding
    /// checks of the balances read back (it returns what it confirmed).
    /// </summary>
    internal async Task VerifyAsync(WorkloadResult result, Book book, Func<Ack, Task<string?>> stored,
        string storedWhat, Func<BalanceState[], BalanceState, List<string>, string>? balances)
    {
        var started = Stopwatch.GetTimestamp();
        var problems = new List<string>();
        var states = await BalanceStatesAsync(book);
        var world = await api.GetBalanceAsync("/balances/" + book.WorldId);
        foreach (var state in states.Append(world).Where(state => state.Balance != state.Credit - state.Debit))
        {
            problems.Add($"balance {state.Id}: balance {state.Balance} != credit {state.Credit} - debit {state.Debit}");
        }
        var total = states.Aggregate(world.Balance, (sum, state) => sum + state.Balance);
        if (!total.IsZero)
        {
            problems.Add($"money not conserved: sum of balances + @World = {total} in {book.Currency}");
        }
        if (world.Balance != -book.Funding)
        {
            problems.Add($"@World {book.Currency} is {world.Balance}, expected {-book.Funding}");
        }
        var debits = states.Aggregate(BigInteger.Zero, (sum, state) => sum + state.Debit);
        var excess = debits - book.AckedCents;
        if (excess.Sign < 0 || excess > book.UnansweredCents)
        {
            problems.Add($"applied debits {debits} != acknowledged {book.AckedCents}" +
                         (book.UnansweredCents > 0 ? $" (+ at most {book.UnansweredCents} unanswered)" : ""));
        }
        var confirmed = balances?.Invoke(states, world, problems);
        var acks = book.Acks();
        var sample = Sample(acks, Math.Max(2000, options.VerifySample));
        var bad = 0;
        var badExamples = new List<string>();
        await Parallel.ForEachAsync(sample, Parallel32, async (ack, _) =>
        {
            if (await stored(ack) is { } problem)
            {
                Interlocked.Increment(ref bad);
                lock (badExamples)
                {
                    if (badExamples.Count < 3)
                    {
                        badExamples.Add(problem);
                    }
                }
            }
        });
        if (bad > 0)
        {
            problems.Add($"{bad} of {sample.Count} acknowledged transfers not stored as sent ({storedWhat}): " +
                         string.Join(" | ", badExamples));
        }
        result.Verified = problems.Count == 0;
        result.Verification = result.Verified
            ? string.Create(CultureInfo.InvariantCulture,
                $"ok: sum of {states.Length:N0} balances + @World = 0; debits = acknowledged {book.AckedCents:N0}; {(string.IsNullOrEmpty(confirmed) ? "" : confirmed + "; ")}{sample.Count:N0} of {acks.Count:N0} {storedWhat} ({Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s)")
            : "FAILED: " + string.Join("; ", problems);
        Console.WriteLine($"[{Label(result.Workload)}] verification {result.Verification}");
    }

    private static string? Mismatch(byte[] body, Ack ack, Book book, string expectedStatus = "APPLIED")
    {
        using var document = JsonDocument.Parse(body);
        var root = document.RootElement;
        var status = root.GetProperty("status").GetString();
        var amount = Ledger.Number(root, "precise_amount");
        var source = root.GetProperty("source").GetString();
        var destination = root.GetProperty("destination").GetString();
        return status == expectedStatus && amount == ack.Cents && source == book.Ids[ack.Source] &&
               destination == book.Ids[ack.Destination]
            ? null
            : $"status {status}, precise_amount {amount}, {source} -> {destination}; sent {ack.Cents}, " +
              $"{book.Ids[ack.Source]} -> {book.Ids[ack.Destination]}";
    }

    private static List<Ack> Sample(List<Ack> acks, int count)
    {
        if (acks.Count <= count)
        {
            return acks;
        }
        var picked = acks.ToArray();
        for (var i = 0; i < count; i++)
        {
            var j = Random.Shared.Next(i, picked.Length);
            (picked[i], picked[j]) = (picked[j], picked[i]);
        }
        return [.. picked[..count]];
    }

    private static void Record(WorkloadResult result, CpuMeter cpu)
    {
        var (generator, server, machine) = cpu.Stop();
        result.Metrics["generator_cpu_cores"] = generator;
        result.Metrics["server_cpu_cores"] = server ?? double.NaN;
        result.Metrics["machine_busy"] = machine ?? double.NaN;
    }

    /// <summary>Closed loop: what was still in flight when the window closed (not in the rate or percentiles).</summary>
    private static void Late(WorkloadResult result, Timing timing)
    {
        result.Metrics["answered_after_window"] = timing.Late;
        result.Metrics["slowest_after_window_ms"] = timing.Late > 0 ? timing.LateMaxMs : double.NaN;
    }

    internal static void Tallied(WorkloadResult result, Tally tally)
    {
        result.Failures = tally.Failed;
        result.Metrics["ok_total"] = tally.Ok;
        result.FailureSamples.AddRange(tally.Samples);
    }

    /// <summary>A workload that cannot be set up, or whose drain stalls, is FAILED with the reason; the others go on.</summary>
    internal static async Task<WorkloadResult> GuardAsync(WorkloadResult result, Func<Task> body)
    {
        try
        {
            await body();
        }
        catch (Exception exception) when (exception is BenchException or JsonException or KeyNotFoundException
                                              or InvalidOperationException or FormatException)
        {
            result.Verified = false;
            result.Verification = "FAILED: " + exception.Message;
            Console.WriteLine($"[{result.Workload} {result.Storage}] {result.Verification}");
        }
        return result;
    }
}
