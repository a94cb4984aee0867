using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Blnk.TestSupport;

namespace Blnk.Server.Tests;

// Covers the writer under pressure: a full queue answers 503 QUEUE_BACKPRESSURE fast and recovers;
// one failing item does not fail its batch; queued work resumes after a SIGKILL under load.
public sealed class LoadSafetyTests
{
    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_full_writer_queue_answers_503_quickly_and_recovers(string dialect)
    {
        await using var server = await ServerProcess.StartAsync(await ServerFixture.NewDataSourceAsync(dialect),
            new Dictionary<string, string>
            {
                ["BLNK_TRANSACTION_MAX_QUEUE_SIZE"] = "1",
                ["BLNK_TRANSACTION_BATCH_SIZE"] = "1",
            });
        var api = new Api(server.Client);
        var source = await api.CreateBalanceAsync();
        var destination = await api.CreateBalanceAsync();
        await api.FundAsync(source, 1_000_000);

        var timings = new ConcurrentBag<(HttpStatusCode Status, string? Code, TimeSpan Elapsed, string Reference)>();
        await Task.WhenAll(Enumerable.Range(0, 300).Select(async i =>
        {
            var reference = $"bp-{i}-{Guid.NewGuid()}";
            var watch = Stopwatch.StartNew();
            var response = await api.TransferAsync(source, destination, 1, reference: reference);
            timings.Add((response.Status, response.Status == HttpStatusCode.Created ? null : response.ErrorCode,
                watch.Elapsed, reference));
        }));

        var refused = timings.Where(timing => timing.Status == HttpStatusCode.ServiceUnavailable).ToList();
        Assert.NotEmpty(refused);
        Assert.All(refused, timing => Assert.Equal("QUEUE_BACKPRESSURE", timing.Code));
        Assert.All(timings, timing => Assert.True(timing.Status is HttpStatusCode.Created
            or HttpStatusCode.ServiceUnavailable, $"{timing.Status} {timing.Code}"));
        var accepted = timings.Where(timing => timing.Status == HttpStatusCode.Created).ToList();
        Assert.Equal(1_000_000 - accepted.Count, await api.BalanceOfAsync(source));
        foreach (var timing in refused)
        {
            Assert.Equal(HttpStatusCode.NotFound, (await api.GetAsync($"transactions/reference/{timing.Reference}")).Status);
        }
        // Load gone: the server takes writes again.
        Assert.Equal(HttpStatusCode.Created, (await api.TransferAsync(source, destination, 1)).Status);
    }

    /// <summary>
    /// A database that turns connections away is load, not a server fault: the requests it refuses answer
    /// 503 <c>QUEUE_BACKPRESSURE</c> (retry shortly), never 500, and the server serves again once load drops.
    /// </summary>
    [Fact]
    public async Task A_database_at_its_connection_limit_answers_503_and_recovers()
    {
        var dns = await (await PostgresCluster.SharedAsync()).CreateConnectionLimitedDatabaseAsync(6);
        await using var server = await ServerProcess.StartAsync(dns);
        var api = new Api(server.Client);
        var source = await api.CreateBalanceAsync();
        var destination = await api.CreateBalanceAsync();
        await api.FundAsync(source, 1_000);

        var responses = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => i % 2 == 0
            ? api.GetAsync("ledgers")
            : api.TransferAsync(source, destination, 1)));

        var refused = responses.Where(response => response.Status == HttpStatusCode.ServiceUnavailable).ToList();
        Assert.NotEmpty(refused);
        Assert.All(refused, response => Assert.Equal("QUEUE_BACKPRESSURE", response.ErrorCode));
        Assert.All(responses, response => Assert.True(response.Status is HttpStatusCode.OK or HttpStatusCode.Created
            or HttpStatusCode.ServiceUnavailable, $"{response.Status} {response.Text}"));
        var applied = responses.Count(response => response.Status == HttpStatusCode.Created);
        Assert.Equal(1_000 - applied, await api.BalanceOfAsync(source));
        Assert.Equal(HttpStatusCode.Created, (await api.TransferAsync(source, destination, 1)).Status);
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Failing_items_in_a_batch_do_not_stop_the_others(string dialect)
    {
        await using var server = await ServerProcess.StartAsync(await ServerFixture.NewDataSourceAsync(dialect));
        var api = new Api(server.Client);
        var source = await api.CreateBalanceAsync();
        var destination = await api.CreateBalanceAsync();
        await api.FundAsync(source, 100);
        var duplicate = "dup-" + Guid.NewGuid();
        Assert.Equal(HttpStatusCode.Created, (await api.TransferAsync(source, destination, 1, reference: duplicate)).Status);

        // Sent together so they share writer batches: good ones interleaved with every kind of refusal.
        var good = Enumerable.Range(0, 40).Select(i => api.TransferAsync(source, destination, 1)).ToList();
        var insufficient = api.TransferAsync(source, destination, 1_000_000);
        var duplicated = api.TransferAsync(source, destination, 1, reference: duplicate);
        var unknown = api.TransferAsync("bln_does_not_exist", destination, 1);
        var mismatch = api.TransferAsync(source, destination, 1, currency: "EUR");
        var more = Enumerable.Range(0, 40).Select(i => api.TransferAsync(source, destination, 1)).ToList();

        Assert.Equal("TXN_INSUFFICIENT_FUNDS", (await insufficient).ErrorCode);
        Assert.Equal("TXN_DUPLICATE_REFERENCE", (await duplicated).ErrorCode);
        Assert.Equal("TXN_NOT_FOUND", (await unknown).ErrorCode);
        Assert.Equal("TXN_VALIDATION_ERROR", (await mismatch).ErrorCode);
        foreach (var response in await Task.WhenAll(good.Concat(more)))
        {
            Assert.Equal(HttpStatusCode.Created, response.Status);
        }
        Assert.Equal(100 - 1 - 80, await api.BalanceOfAsync(source));
        Assert.Equal(81, await api.BalanceOfAsync(destination));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_queued_debit_sent_after_its_queued_credit_never_overtakes_it(string dialect)
    {
        // Batches of 4 and room for 8 hand-offs while 64 senders queue 1,000 other transfers: requests fill the
        // batches, hand-offs and claims fall behind, and a debit that found room to be handed off must still wait
        // for its credit, left to a claim.
        await using var server = await ServerProcess.StartAsync(await ServerFixture.NewDataSourceAsync(dialect),
            new Dictionary<string, string>
            {
                ["BLNK_TRANSACTION_MAX_QUEUE_SIZE"] = "8",
                ["BLNK_TRANSACTION_BATCH_SIZE"] = "4",
            });
        var api = new Api(server.Client);
        var bank = await api.CreateBalanceAsync();
        var sink = await api.CreateBalanceAsync();
        await api.FundAsync(bank, 1_000_000);
        var fillers = 1_000;
        var backlog = new TaskCompletionSource();
        var load = Enumerable.Range(0, 64).Select(async _ =>
        {
            while (Interlocked.Decrement(ref fillers) >= 0)
            {
                await AcceptQueuedAsync(api, bank, sink);
                if (Volatile.Read(ref fillers) < 900)
                {
                    backlog.TrySetResult();
                }
            }
        }).ToList();
        await backlog.Task;
        var debits = new ConcurrentBag<string>();
        var pairs = Enumerable.Range(0, 8).Select(async _ =>
        {
            var wallet = await api.CreateBalanceAsync();
            for (var round = 0; round < 10; round++)
            {
                await AcceptQueuedAsync(api, bank, wallet);
                debits.Add(await AcceptQueuedAsync(api, wallet, sink));
            }
        });
        await Task.WhenAll(load.Concat(pairs));

        foreach (var reference in debits)
        {
            var child = await api.WaitForReferenceAsync(reference + "_q", TimeSpan.FromSeconds(30));
            Assert.Equal(HttpStatusCode.OK, child.Status);
            Assert.True(child.Str("status") == "APPLIED", $"{reference} was applied before its credit");
        }
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Queued_work_resumes_after_a_sigkill_under_load(string dialect)
    {
        await using var server = await ServerProcess.StartAsync(await ServerFixture.NewDataSourceAsync(dialect));
        var api = new Api(server.Client);
        var source = await api.CreateBalanceAsync();
        var destination = await api.CreateBalanceAsync();
        await api.FundAsync(source, 1_000_000);
        var acknowledged = await SigkillLoad.RunAsync(server, TimeSpan.FromMilliseconds(1500), (_, reference) =>
            api.TransferAsync(source, destination, 1, skipQueue: false, reference));
        Assert.NotEmpty(acknowledged);

        await server.RestartAsync();
        var restarted = Stopwatch.StartNew();
        foreach (var reference in acknowledged)
        {
            var child = await api.WaitForReferenceAsync(reference + "_q", TimeSpan.FromSeconds(60));
            Assert.True(child.Status == HttpStatusCode.OK, $"queued {reference} never applied after the restart");
            Assert.Equal("APPLIED", child.Str("status"));
        }
        // The dead process had leased what it accepted to itself (to apply it without a claim): its leases must
        // not hold that work back until they run out (30 s).
        Assert.True(restarted.Elapsed < TimeSpan.FromSeconds(20), $"applied {restarted.Elapsed} after the restart");
        // Requests cut off by the kill may have committed without an answer: at least every acknowledged
        // one is applied, and money is conserved either way.
        var moved = await api.BalanceOfAsync(destination);
        Assert.True(moved >= acknowledged.Count, $"{moved} applied, {acknowledged.Count} acknowledged");
        Assert.Equal(1_000_000, await api.BalanceOfAsync(source) + moved);
    }

    /// <summary>
    /// A queued transfer of 10, sent again while the writer's queue is full (503); returns its reference.
    /// </summary>
    private static async Task<string> AcceptQueuedAsync(Api api, string source, string destination)
    {
        var reference = "fifo-" + Guid.NewGuid();
        while (true)
        {
            var response = await api.TransferAsync(source, destination, 10, skipQueue: false, reference);
            if (response.Status == HttpStatusCode.Created)
            {
                return reference;
            }
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.Status);
            await Task.Delay(5);
        }
    }
}
