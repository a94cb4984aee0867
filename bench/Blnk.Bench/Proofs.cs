using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Blnk.Bench;

/// <summary>What one <c>prove</c> does: which server to start on which storage, how long and how hard.</summary>
internal sealed record ProofOptions(
    string ServerDll,
    string Storage,
    string DataSource,
    string Directory,
    bool TwoProcesses,
    TimeSpan Duration,
    int Concurrency,
    int HotDebits,
    int VerifySample);

/// <summary>
/// The proofs of correctness under load, longer than the test suite's versions, each a row of the report:
/// P1 two server processes over shared balances with tight funds and refusals mixed in (PostgreSQL); P2 a hot balance
/// holding exactly enough for half of its 1-unit debits, sent all at once, synchronous and queued (across two
/// processes on PostgreSQL); P3 a SIGKILL under synchronous and queued load, then a restart. The servers are started
/// here, from the build run.sh copied, on the storage the workloads used (fresh currencies, so nothing mixes).
/// </summary>
internal sealed class Proofs(ProofOptions options)
{
    private const int TightBalances = 200;
    private const long TightFundingCents = 100_000;   // 1,000.00 each: transfers of up to 200.00 soon run short
    private const long TightAmountCentsMax = 20_000;
    private const int CrashBalances = 100;
    private const long CrashFundingCents = 1_000_000_000;
    private const long CrashAmountCentsMax = 10_000;
    private const int RefusalsChecked = 500;          // P1: refused references read back, each must be absent
    private const int HotDebitsInFlight = 1000;
    private const string UnknownBalance = "bln_00000000-0000-7000-8000-000000000000";
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(120);
    private static readonly ParallelOptions Parallel32 = new() { MaxDegreeOfParallelism = 32 };
    private readonly string _tag = Convert.ToHexString(Guid.NewGuid().ToByteArray()[..3]);

    public async Task<List<WorkloadResult>> RunAsync()
    {
        var results = new List<WorkloadResult>();
        if (options.TwoProcesses)
        {
            results.Add(await TwoProcessesAsync());
        }
        results.Add(await HotHalfAsync(queued: false));
        results.Add(await HotHalfAsync(queued: true));
        results.Add(await SigkillAsync());
        return results;
    }

    /// <summary>
    /// P1: transfers over 200 balances funded with 1,000.00 each, up to 200.00 apiece and never overdrawing, sent to
    /// two processes alternately; every 50th reuses an acknowledged reference and the next names a balance that
    /// does not exist. Verified: no balance below zero, money conserved, balance = credit − debit, the debits equal
    /// the acknowledged amounts exactly, every acknowledged reference stored as sent, refused ones not stored.
    /// </summary>
    private async Task<WorkloadResult> TwoProcessesAsync()
    {
        var result = NewResult("P1", "two processes, shared balances, tight funds, refusals mixed in");
        return await Workloads.GuardAsync(result, async () =>
        {
            using var first = await StartServerAsync("p1-first");
            using var second = await StartServerAsync("p1-second");
            Ledger[] apis = [first.Api, second.Api];
            var book = await CreateBookAsync("P1", first.Api, TightBalances, _ => TightFundingCents);
            var tally = new Tally();
            var refusals = new RefusalCounts();
            var refused = new ConcurrentQueue<string>();
            string? lastAcked = null;
            long sent = 0;
            Timing timing;
            await using (new ProgressLine(Label("P1"), ProgressLine.Rate(tally)))
            {
                timing = await Load.ClosedLoopAsync(options.Concurrency, TimeSpan.Zero, options.Duration, async () =>
                {
                    var n = Interlocked.Increment(ref sent);
                    var duplicateOf = n % 50 == 0 ? Volatile.Read(ref lastAcked) : null;
                    var unknown = n % 50 == 1;
                    var (source, destination) = Workloads.RandomPair(TightBalances);
                    var cents = Random.Shared.NextInt64(1, TightAmountCentsMax + 1);
                    var (sequence, reference) = book.NextReference();
                    var body = Ledger.TransferBody(cents, book.Currency, duplicateOf ?? reference,
                        unknown ? UnknownBalance : book.Ids[source], book.Ids[destination], allowOverdraft: false,
                        skipQueue: true);
                    var reply = await apis[n % 2].PostTransferAsync(body);
                    var code = ErrorCode(reply);
                    if (duplicateOf is not null || unknown)
                    {
                        var expected = unknown ? "TXN_NOT_FOUND" : "TXN_DUPLICATE_REFERENCE";
                        return Refused(tally, refusals, body, reply, code == expected, unknown ? 2 : 1);
                    }
                    if (reply.Status == 201)
                    {
                        book.Acknowledged(new Ack(sequence, reference, source, destination, cents));
                        Volatile.Write(ref lastAcked, reference);
                        tally.Succeeded();
                        return true;
                    }
                    if (code == "TXN_INSUFFICIENT_FUNDS" && refused.Count < RefusalsChecked)
                    {
                        refused.Enqueue(reference);
                    }
                    return Refused(tally, refusals, body, reply, code == "TXN_INSUFFICIENT_FUNDS", 0, book, cents);
                });
            }
            result.Throughput = timing.Rate;
            result.P50Ms = timing.PercentileMs(50);
            result.P99Ms = timing.PercentileMs(99);
            result.Ok = tally.Ok;
            refusals.Record(result);
            Workloads.Tallied(result, tally);
            var storedRefusals = await CountStoredAsync(first.Api, refused);
            await Verifier(first.Api).VerifyAsync(result, book,
                ack => Workloads.StoredAsync(apis[ack.Sequence % 2], ack, book, ""),
                "references APPLIED as sent, read from either process", (states, _, problems) =>
                {
                    var lowest = states.Min(state => state.Balance);
                    Require(problems, lowest.Sign >= 0,
                        $"a balance is {lowest}: below its overdraft rule (none allowed)");
                    Require(problems, storedRefusals == 0,
                        $"{storedRefusals} of {refused.Count} transfers refused for funds were stored");
                    return string.Create(CultureInfo.InvariantCulture,
                        $"lowest balance {lowest} (none below zero); {refused.Count} refused references not stored");
                });
        });
    }

    /// <summary>
    /// P2: a balance holding exactly enough for half of <see cref="ProofOptions.HotDebits"/> 1-unit debits, sent
    /// with up to 1,000 in flight (to two processes alternately on PostgreSQL). Synchronous: exactly half answered
    /// 201, the rest refused for funds. Queued: every one accepted, then exactly half applied and half rejected. The
    /// balance ends at zero either way.
    /// </summary>
    private async Task<WorkloadResult> HotHalfAsync(bool queued)
    {
        var name = queued ? "P2-queued" : "P2";
        var result = NewResult(name, $"hot balance with funds for half of {options.HotDebits:N0} concurrent debits" +
                                     (queued ? ", queued" : ""));
        return await Workloads.GuardAsync(result, async () =>
        {
            var debits = options.HotDebits;
            var half = debits / 2;
            using var first = await StartServerAsync(name.ToLowerInvariant() + "-first");
            using var second = options.TwoProcesses
                ? await StartServerAsync(name.ToLowerInvariant() + "-second")
                : null;
            Ledger[] apis = second is null ? [first.Api] : [first.Api, second.Api];
            var book = await CreateBookAsync(name, first.Api, 2, i => i == 0 ? half : 1);
            var tally = new Tally();
            var refusals = new RefusalCounts();
            var accepted = new ConcurrentQueue<Ack>();
            var started = Stopwatch.GetTimestamp();
            await using (new ProgressLine(Label(name), ProgressLine.Rate(tally)))
            {
                await Parallel.ForEachAsync(Enumerable.Range(0, debits),
                    new ParallelOptions { MaxDegreeOfParallelism = HotDebitsInFlight }, async (i, _) =>
                    {
                        var (sequence, reference) = book.NextReference();
                        var ack = new Ack(sequence, reference, 0, 1, 1);
                        var body = Ledger.TransferBody(1, book.Currency, reference, book.Ids[0], book.Ids[1],
                            allowOverdraft: false, skipQueue: !queued);
                        var reply = await apis[i % apis.Length].PostTransferAsync(body);
                        if (reply.Status == 201)
                        {
                            tally.Succeeded();
                            if (queued)
                            {
                                accepted.Enqueue(ack); // applied or rejected later: it counts once settled
                            }
                            else
                            {
                                book.Acknowledged(ack);
                            }
                            return;
                        }
                        Refused(tally, refusals, body, reply, !queued && ErrorCode(reply) == "TXN_INSUFFICIENT_FUNDS",
                            0, book, 1);
                    });
            }
            result.Throughput = debits / Stopwatch.GetElapsedTime(started).TotalSeconds;
            result.Ok = tally.Ok;
            refusals.Record(result);
            Workloads.Tallied(result, tally);
            var rejected = queued ? await SettleQueuedAsync(first.Api, book, accepted) : refusals.Funds;
            var (outcome, refusal) = queued ? ("applied", "rejected by the queue") : ("answered 201", "refused");
            await Verifier(first.Api).VerifyAsync(result, book,
                ack => Workloads.StoredAsync(first.Api, ack, book, queued ? "_q" : ""),
                queued ? "references_q APPLIED as sent" : "references APPLIED as sent", (states, _, problems) =>
                {
                    var applied = book.Acks().Count;
                    Require(problems, applied == half && rejected == debits - half,
                        $"{applied:N0} debits {outcome} and {rejected:N0} {refusal}, expected {half:N0} and {debits - half:N0}");
                    Require(problems, states[0].Balance.IsZero, $"the hot balance ended at {states[0].Balance}, not 0");
                    return string.Create(CultureInfo.InvariantCulture,
                        $"{applied:N0} of {debits:N0} debits {outcome}, {rejected:N0} {refusal}; hot balance 0");
                });
        });
    }

    /// <summary>
    /// P3: synchronous and queued transfers (alternately), 256 in flight, SIGKILL half-way through the duration,
    /// restart. Each transfer that got no answer is looked up: it was either stored whole or not at all. Verified:
    /// every acknowledged transfer stored as sent, every accepted queued one applied after the restart, the debits
    /// equal the acknowledged amounts plus those of the unanswered ones found stored, money conserved,
    /// balance = credit − debit.
    /// </summary>
    private async Task<WorkloadResult> SigkillAsync()
    {
        var result = NewResult("P3", "SIGKILL under synchronous and queued load, restart");
        return await Workloads.GuardAsync(result, async () =>
        {
            using var server = await StartServerAsync("p3");
            var book = await CreateBookAsync("P3", server.Api, CrashBalances, _ => CrashFundingCents);
            var tally = new Tally();
            var queuedReferences = new ConcurrentDictionary<string, byte>(StringComparer.Ordinal);
            var unanswered = new ConcurrentQueue<(Ack Ack, bool Queued)>();
            var stopping = new CancellationTokenSource();
            long sent = 0;
            var killAfter = options.Duration / 2;
            await using (new ProgressLine(Label("P3"), ProgressLine.Rate(tally)))
            {
                var workers = Enumerable.Range(0, options.Concurrency).Select(_ => Task.Run(async () =>
                {
                    while (!stopping.IsCancellationRequested)
                    {
                        var queued = Interlocked.Increment(ref sent) % 2 == 0;
                        var (source, destination) = Workloads.RandomPair(CrashBalances);
                        var (sequence, reference) = book.NextReference();
                        var ack = new Ack(sequence, reference, source, destination,
                            Random.Shared.NextInt64(1, CrashAmountCentsMax + 1));
                        var body = Ledger.TransferBody(ack.Cents, book.Currency, reference, book.Ids[source],
                            book.Ids[destination], allowOverdraft: false, skipQueue: !queued);
                        var reply = await server.Api.PostTransferAsync(body);
                        if (reply.Status == 201)
                        {
                            Stored(book, queuedReferences, ack, queued);
                            tally.Succeeded();
                        }
                        else if (reply.Status == 0)
                        {
                            unanswered.Enqueue((ack, queued));
                        }
                        else
                        {
                            tally.Fail("POST /transactions " + Encoding.UTF8.GetString(body), reply);
                        }
                    }
                })).ToArray();
                await Task.Delay(killAfter);
                server.Kill();
                await stopping.CancelAsync();
                await Task.WhenAll(workers);
            }
            result.Ok = tally.Ok;
            result.Throughput = tally.Ok / killAfter.TotalSeconds;
            Workloads.Tallied(result, tally);
            var restarting = Stopwatch.GetTimestamp();
            await server.StartAsync();
            result.Metrics["restart_s"] = Stopwatch.GetElapsedTime(restarting).TotalSeconds;
            result.Metrics["unanswered"] = unanswered.Count;
            var storedUnanswered = 0;
            foreach (var (ack, queued) in unanswered)
            {
                var reply = await server.Api.GetAsync("/transactions/reference/" + ack.Reference);
                if (reply.Status == 200)
                {
                    Stored(book, queuedReferences, ack, queued);
                    storedUnanswered++;
                }
                else if (reply.Status != 404)
                {
                    throw new BenchException(
                        $"GET /transactions/reference/{ack.Reference} answered {reply.Status}: {reply.Text}");
                }
            }
            result.Metrics["unanswered_found_stored"] = storedUnanswered;
            var draining = Stopwatch.GetTimestamp();
            await WaitUntilSettledAsync(server.Api, book);
            result.Metrics["queued_drained_after_restart_s"] = Stopwatch.GetElapsedTime(draining).TotalSeconds;
            await Verifier(server.Api).VerifyAsync(result, book,
                ack => Workloads.StoredAsync(server.Api, ack, book,
                    queuedReferences.ContainsKey(ack.Reference) ? "_q" : ""),
                "acknowledged references (queued ones' _q) APPLIED as sent after the restart", (_, _, _) =>
                    string.Create(CultureInfo.InvariantCulture,
                        $"killed after {killAfter.TotalSeconds:F0} s: {tally.Ok:N0} acknowledged ({queuedReferences.Count:N0} queued, all applied after the restart), {unanswered.Count:N0} unanswered of which {storedUnanswered:N0} stored whole and counted"));
        });
    }

    private static void Stored(Book book, ConcurrentDictionary<string, byte> queuedReferences, Ack ack, bool queued)
    {
        if (queued)
        {
            queuedReferences[ack.Reference] = 0;
        }
        book.Acknowledged(ack);
    }

    /// <summary>
    /// Waits until the queued debits are processed, then reads each accepted one's <c>_q</c> child: an APPLIED one
    /// joins the book's acknowledged transfers (so the debits must equal them exactly); returns how many were
    /// REJECTED.
    /// </summary>
    private async Task<long> SettleQueuedAsync(Ledger api, Book book, ConcurrentQueue<Ack> accepted)
    {
        await WaitUntilSettledAsync(api, book);
        long rejected = 0;
        await Parallel.ForEachAsync(accepted, Parallel32, async (ack, _) =>
        {
            var path = "/transactions/reference/" + ack.Reference + "_q";
            var reply = await api.GetAsync(path);
            var status = reply.Status == 200 ? Ledger.Fields(reply.Body, "status")[0] : null;
            if (status == "APPLIED")
            {
                book.Acknowledged(ack);
            }
            else if (status == "REJECTED")
            {
                Interlocked.Increment(ref rejected);
            }
            else
            {
                throw new BenchException($"GET {path} answered {reply.Status}: {reply.Text}");
            }
        });
        return rejected;
    }

    private async Task WaitUntilSettledAsync(Ledger api, Book book)
    {
        var deadline = Stopwatch.GetTimestamp() + Load.Ticks(SettleTimeout);
        while (!await Verifier(api).QueueSettledAsync(book))
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new BenchException($"queued transfers still pending after {SettleTimeout.TotalSeconds:F0} s");
            }
            await Task.Delay(250);
        }
    }

    private static async Task<int> CountStoredAsync(Ledger api, IEnumerable<string> references)
    {
        var stored = 0;
        await Parallel.ForEachAsync(references, Parallel32, async (reference, _) =>
        {
            if ((await api.GetAsync("/transactions/reference/" + reference)).Status != 404)
            {
                Interlocked.Increment(ref stored);
            }
        });
        return stored;
    }

    /// <summary>
    /// A refusal that was <paramref name="expected"/> is counted under <paramref name="kind"/> (0 funds, 1 duplicate
    /// reference, 2 unknown balance); anything else is a failed request, and one with no answer may have been applied.
    /// </summary>
    private static bool Refused(Tally tally, RefusalCounts refusals, byte[] body, Reply reply, bool expected, int kind,
        Book? book = null, long cents = 0)
    {
        if (expected)
        {
            refusals.Count(kind);
            return true;
        }
        if (reply.Status == 0)
        {
            book?.Unanswered(cents);
        }
        tally.Fail("POST /transactions " + Encoding.UTF8.GetString(body), reply);
        return false;
    }

    private static string? ErrorCode(Reply reply)
    {
        if (reply.Status < 400 || reply.Body.Length == 0)
        {
            return null;
        }
        try
        {
            using var document = JsonDocument.Parse(reply.Body);
            return document.RootElement.TryGetProperty("error_detail", out var detail) &&
                   detail.TryGetProperty("code", out var code)
                ? code.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static void Require(List<string> problems, bool holds, string problem)
    {
        if (!holds)
        {
            problems.Add(problem);
        }
    }

    private Task<ServerUnderTest> StartServerAsync(string name) =>
        ServerUnderTest.StartAsync(options.ServerDll, options.DataSource, options.Directory, name);

    private async Task<Book> CreateBookAsync(string proof, Ledger api, int balances, Func<int, long> fundingCents)
    {
        var code = proof.Replace("-QUEUED", "Q", StringComparison.OrdinalIgnoreCase);
        return await Book.CreateAsync(api, $"P{_tag}{code}", $"proof-{_tag}-{code}-", balances, fundingCents);
    }

    /// <summary>The workloads' verification (money, balances, acknowledged transfers), pointed at one server.</summary>
    private Workloads Verifier(Ledger api) => new(api, new RunOptions(options.Storage, [], options.Duration,
        TimeSpan.Zero, options.Concurrency, 0, null, 0, null, 2, options.VerifySample, null));

    private WorkloadResult NewResult(string proof, string title) =>
        new() { Workload = proof, Title = title, Storage = options.Storage };

    private string Label(string proof) => $"{proof} {options.Storage}";

    /// <summary>Expected refusals by kind: for funds, for a duplicate reference, for an unknown balance.</summary>
    private sealed class RefusalCounts
    {
        private readonly long[] _counts = new long[3];

        public long Funds => Volatile.Read(ref _counts[0]);

        public void Count(int kind) => Interlocked.Increment(ref _counts[kind]);

        /// <summary>The kinds that occurred, as metrics of the result.</summary>
        public void Record(WorkloadResult result)
        {
            string[] names = ["refused_insufficient_funds", "refused_duplicate_reference", "refused_unknown_balance"];
            for (var kind = 0; kind < names.Length; kind++)
            {
                if (_counts[kind] > 0)
                {
                    result.Metrics[names[kind]] = _counts[kind];
                }
            }
        }
    }
}
