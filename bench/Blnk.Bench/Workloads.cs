using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;

namespace Blnk.Bench;

/// <summary>What one <c>run</c> does: the options, then W1–W6 of WORKLOADS.md against one server.</summary>
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
    int? ServerPid);

internal sealed class Workloads(Ledger api, RunOptions options)
{
    private const long FundingCents = 1_000_000_000;         // 10,000,000.00 per balance
    private const long HotFundingCents = 10_000_000_000_000; // the hot balance pays for every W3 debit
    private const long AmountCentsMax = 10_000;              // transfers of 0.01 … 100.00
    private static readonly ParallelOptions Parallel32 = new() { MaxDegreeOfParallelism = 32 };
    private readonly string _tag = Convert.ToHexString(Guid.NewGuid().ToByteArray()[..3]);
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
            "W5" => [await ReadsUnderWritesAsync()],
            "W6" => new[] { await QueuedAsync() },
            _ => throw new ArgumentException($"unknown workload '{workload}': use W1, W2, W3, W5, W6"),
        };
        _done.AddRange(results);
    }

    private (int, int) Uniform()
    {
        var source = Random.Shared.Next(options.Balances);
        var destination = (source + 1 + Random.Shared.Next(options.Balances - 1)) % options.Balances;
        return (source, destination);
    }

    private (int, int) HotSource() => (0, 1 + Random.Shared.Next(options.Balances - 1));

    private (int, int) HotDestination() => (1 + Random.Shared.Next(options.Balances - 1), 0);

    private string Label(string workload) => $"{workload} {options.Storage}";

    private async Task<Book> SetUpAsync(string workload, bool hot)
    {
        var code = workload.Replace("-DEBIT", "D", StringComparison.OrdinalIgnoreCase)
            .Replace("-CREDIT", "C", StringComparison.OrdinalIgnoreCase);
        var started = Stopwatch.GetTimestamp();
        var book = await Book.CreateAsync(api, $"B{_tag}{code}", $"bench-{_tag}-{code}-", options.Balances,
            i => hot && i == 0 ? HotFundingCents : FundingCents);
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
            Tallied(result, tally);
            await VerifyAsync(result, book, "");
        });
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

    private async Task<bool> QueueSettledAsync(Book book)
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
    private async Task VerifyAsync(WorkloadResult result, Book book, string suffix)
    {
        var started = Stopwatch.GetTimestamp();
        var problems = new List<string>();
        var states = new BalanceState[book.Ids.Length];
        await Parallel.ForEachAsync(Enumerable.Range(0, book.Ids.Length), Parallel32, async (i, _) =>
            states[i] = await api.GetBalanceAsync("/balances/" + book.Ids[i]));
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
        var acks = book.Acks();
        var sample = Sample(acks, Math.Max(2000, options.VerifySample));
        var bad = 0;
        var badExamples = new List<string>();
        await Parallel.ForEachAsync(sample, Parallel32, async (ack, _) =>
        {
            var path = "/transactions/reference/" + ack.Reference + suffix;
            var reply = await api.GetAsync(path);
            var problem = reply.Status != 200 ? $"{reply.Status} {reply.Text}" : Mismatch(reply.Body, ack, book);
            if (problem is not null)
            {
                Interlocked.Increment(ref bad);
                lock (badExamples)
                {
                    if (badExamples.Count < 3)
                    {
                        badExamples.Add($"GET {path} -> {problem}");
                    }
                }
            }
        });
        if (bad > 0)
        {
            problems.Add($"{bad} of {sample.Count} acknowledged transfers not stored as sent and APPLIED: " +
                         string.Join(" | ", badExamples));
        }
        result.Verified = problems.Count == 0;
        result.Verification = result.Verified
            ? string.Create(CultureInfo.InvariantCulture,
                $"ok: sum of {states.Length:N0} balances + @World = 0; debits = acknowledged {book.AckedCents:N0}; {sample.Count:N0} of {acks.Count:N0} references{suffix} APPLIED as sent ({Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s)")
            : "FAILED: " + string.Join("; ", problems);
        Console.WriteLine($"[{Label(result.Workload)}] verification {result.Verification}");
    }

    private static string? Mismatch(byte[] body, Ack ack, Book book)
    {
        using var document = JsonDocument.Parse(body);
        var root = document.RootElement;
        var status = root.GetProperty("status").GetString();
        var amount = Ledger.Number(root, "precise_amount");
        var source = root.GetProperty("source").GetString();
        var destination = root.GetProperty("destination").GetString();
        return status == "APPLIED" && amount == ack.Cents && source == book.Ids[ack.Source] &&
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

    private static void Tallied(WorkloadResult result, Tally tally)
    {
        result.Failures = tally.Failed;
        result.Metrics["ok_total"] = tally.Ok;
        result.FailureSamples.AddRange(tally.Samples);
    }

    /// <summary>A workload that cannot be set up, or whose drain stalls, is FAILED with the reason; the others go on.</summary>
    private static async Task<WorkloadResult> GuardAsync(WorkloadResult result, Func<Task> body)
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
