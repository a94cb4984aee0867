using System.Collections.Concurrent;
using System.Net;
using System.Numerics;
using Blnk.Storage.Postgres;
using Blnk.TestSupport;
using Npgsql;

namespace Blnk.Server.Tests;

// Covers the ledger's rules under concurrent load over HTTP: no balance below its rule, money conserved,
// every acknowledged transfer stored exactly once — on one server per storage, and on two server
// processes sharing one PostgreSQL database.
public sealed class ConcurrencyTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const int BalanceCount = 5;
    private const int TransfersPerWorker = 40;
    private const int Workers = 24;

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Concurrent_overdrawing_transfers_keep_every_rule(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        await RunTransferStormAsync([api]);
    }

    [Fact]
    public async Task Two_server_processes_on_one_postgres_keep_every_rule()
    {
        var dns = await (await PostgresCluster.SharedAsync()).CreateDatabaseAsync();
        await using var first = await ServerProcess.StartAsync(dns);
        await using var second = await ServerProcess.StartAsync(dns);
        await RunTransferStormAsync([new Api(first.Client), new Api(second.Client)]);
    }

    /// <summary>
    /// A balance snapshot holds exactly the APPLIED rows of its balance up to its <c>last_tx_seq</c>. It relies on
    /// every row getting its seq under its balances' row locks; snapshots taken while two processes write the
    /// balances (deciding from remembered balances, so without a locking read) must still add up.
    /// </summary>
    [Fact]
    public async Task Snapshots_taken_while_two_processes_write_hold_exactly_the_rows_up_to_their_seq()
    {
        var dns = await (await PostgresCluster.SharedAsync()).CreateDatabaseAsync();
        await using var first = await ServerProcess.StartAsync(dns);
        await using var second = await ServerProcess.StartAsync(dns);
        Api[] apis = [new(first.Client), new(second.Client)];
        // Many balances, each snapshotted in its own transaction, so the snapshots run all through the load.
        const int balanceCount = 100;
        var balances = new List<string>();
        for (var i = 0; i < balanceCount; i++)
        {
            balances.Add(await apis[0].CreateBalanceAsync());
            await apis[0].FundAsync(balances[i], 1_000_000);
        }
        await using var database = NpgsqlDataSource.Create(PostgresConnectionString.Parse(dns));

        using var stop = new CancellationTokenSource();
        var load = Task.WhenAll(Enumerable.Range(0, Workers).Select(worker => Task.Run(async () =>
        {
            // Each process keeps to its half of the balances, so neither makes the other's remembered ones stale.
            var (random, half, side) = (new Random(worker), balanceCount / 2, worker % 2);
            while (!stop.IsCancellationRequested)
            {
                var from = random.Next(half);
                var to = (from + 1 + random.Next(half - 1)) % half;
                var response = await apis[side].TransferAsync(balances[side * half + from], balances[side * half + to],
                    random.Next(1, 100));
                Assert.True(response.Status == HttpStatusCode.Created, response.Text);
            }
        })));
        await Task.Delay(TimeSpan.FromSeconds(0.5));
        Assert.Equal(HttpStatusCode.OK, (await apis[1].PostAsync("balances-snapshots?batch_size=1", "")).Status);
        await WaitUntilAsync(async () => await CountAsync(database, "SELECT count(*) FROM balance_snapshots")
            == await CountAsync(database, "SELECT count(*) FROM balances"));
        await stop.CancelAsync();
        await load;

        Assert.Equal(0, await CountAsync(database, """
            SELECT count(*) FROM balance_snapshots s
            WHERE s.credit_balance <> (SELECT coalesce(sum(precise_amount), 0) FROM transactions t
                    WHERE t.destination = s.balance_id AND t.status = 'APPLIED' AND t.seq <= s.last_tx_seq)
               OR s.debit_balance <> (SELECT coalesce(sum(precise_amount), 0) FROM transactions t
                    WHERE t.source = s.balance_id AND t.status = 'APPLIED' AND t.seq <= s.last_tx_seq)
            """));
        Assert.Equal(balanceCount + 1, await CountAsync(database, "SELECT count(*) FROM balance_snapshots"));
    }

    private static async Task<long> CountAsync(NpgsqlDataSource database, string sql)
    {
        await using var command = database.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for the snapshots");
            await Task.Delay(50);
        }
    }

    /// <summary>
    /// <c>transaction.remembered_balances</c> off, or so small that every batch overflows it and starts afresh:
    /// the rules hold either way.
    /// </summary>
    [Theory]
    [InlineData("sqlite", "0")]
    [InlineData("postgres", "3")]
    public async Task Remembering_few_or_no_balances_keeps_every_rule(string dialect, string remembered)
    {
        await using var server = await ServerProcess.StartAsync(await ServerFixture.NewDataSourceAsync(dialect),
            new Dictionary<string, string> { ["BLNK_TRANSACTION_REMEMBERED_BALANCES"] = remembered });
        var api = new Api(server.Client);
        await RunTransferStormAsync([api]);
        await AssertHalfOfTheHotDebitsApplyAsync(api);
    }

    /// <summary>
    /// A writer decides plain transfers from the balances it remembers committing. When another process changed
    /// one since, the stored state decides, for a payment as for a refusal: a payment the remembered balance would
    /// cover but the stored one does not is refused, and one the remembered balance would refuse but the stored
    /// one covers is applied.
    /// </summary>
    [Fact]
    public async Task A_balance_another_process_changed_is_decided_from_its_stored_state()
    {
        var dns = await (await PostgresCluster.SharedAsync()).CreateDatabaseAsync();
        await using var first = await ServerProcess.StartAsync(dns);
        await using var second = await ServerProcess.StartAsync(dns);
        var (one, two) = (new Api(first.Client), new Api(second.Client));
        var payer = await one.CreateBalanceAsync();
        var payee = await one.CreateBalanceAsync();
        await one.FundAsync(payer, 100);
        await one.FundAsync(payee, 1);

        Assert.Equal(HttpStatusCode.Created, (await two.TransferAsync(payer, payee, 100)).Status);
        var refused = await one.TransferAsync(payer, payee, 60);
        Assert.Equal((HttpStatusCode.BadRequest, "TXN_INSUFFICIENT_FUNDS"), (refused.Status, refused.ErrorCode));

        // After a stale batch the writer stops remembering for a second; then it remembers both balances again.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.Equal(HttpStatusCode.Created, (await one.TransferAsync(payee, payer, 1)).Status);
        await two.FundAsync(payer, 30);
        Assert.Equal(HttpStatusCode.Created, (await one.TransferAsync(payer, payee, 31)).Status);

        Assert.Equal(0, await one.BalanceOfAsync(payer));
        Assert.Equal(131, await two.BalanceOfAsync(payee));
    }

    /// <summary><c>transaction.writer_loops</c> above 1: concurrent batches in one process keep every rule.</summary>
    [Fact]
    public async Task Several_writer_loops_on_postgres_keep_every_rule()
    {
        var dns = await (await PostgresCluster.SharedAsync()).CreateDatabaseAsync();
        await using var server = await ServerProcess.StartAsync(dns,
            new Dictionary<string, string> { ["BLNK_TRANSACTION_WRITER_LOOPS"] = "4" });
        var api = new Api(server.Client);
        await RunTransferStormAsync([api]);
        await AssertHalfOfTheHotDebitsApplyAsync(api);
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_hot_balance_with_funds_for_half_the_debits_lets_exactly_half_through(string dialect) =>
        await AssertHalfOfTheHotDebitsApplyAsync(await fixture.ApiAsync(dialect));

    private static async Task AssertHalfOfTheHotDebitsApplyAsync(Api api)
    {
        foreach (var skipQueue in new[] { true, false })
        {
            var hot = await api.CreateBalanceAsync();
            var sink = await api.CreateBalanceAsync();
            await api.FundAsync(hot, 500);
            var references = Enumerable.Range(0, 1000).Select(i => $"hot-{i}-{Guid.NewGuid()}").ToList();
            var responses = await Task.WhenAll(references.Select(reference =>
                api.TransferAsync(hot, sink, 1, skipQueue, reference)));
            int applied;
            if (skipQueue)
            {
                applied = responses.Count(response => response.Status == HttpStatusCode.Created);
                Assert.All(responses, response => Assert.True(response.Status is HttpStatusCode.Created
                    || response is { Status: HttpStatusCode.BadRequest, ErrorCode: "TXN_INSUFFICIENT_FUNDS" },
                    response.Text));
            }
            else
            {
                Assert.All(responses, response => Assert.Equal(HttpStatusCode.Created, response.Status));
                var outcomes = await Task.WhenAll(references.Select(reference => api.WaitForReferenceAsync(reference + "_q")));
                applied = outcomes.Count(outcome => outcome.Str("status") == "APPLIED");
                Assert.Equal(1000 - applied, outcomes.Count(outcome => outcome.Str("status") == "REJECTED"));
            }
            Assert.Equal(500, applied);
            Assert.Equal(0, await api.BalanceOfAsync(hot));
            Assert.Equal(500, await api.BalanceOfAsync(sink));
        }
    }

    private static async Task RunTransferStormAsync(IReadOnlyList<Api> servers)
    {
        var api = servers[0];
        var currency = "C" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        var balances = new List<string>();
        for (var i = 0; i < BalanceCount; i++)
        {
            balances.Add(await api.CreateBalanceAsync(currency));
            await api.FundAsync(balances[i], 500, currency);
        }
        var acknowledged = new ConcurrentDictionary<string, (string From, string To, int Amount)>();
        await Task.WhenAll(Enumerable.Range(0, Workers).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker);
            var client = servers[worker % servers.Count];
            for (var i = 0; i < TransfersPerWorker; i++)
            {
                var from = balances[random.Next(BalanceCount)];
                var to = balances[(balances.IndexOf(from) + 1 + random.Next(BalanceCount - 1)) % BalanceCount];
                var amount = random.Next(1, 200);
                var reference = $"storm-{worker}-{i}-{Guid.NewGuid()}";
                var response = await client.TransferAsync(from, to, amount, reference: reference, currency: currency);
                if (response.Status == HttpStatusCode.Created)
                {
                    acknowledged[reference] = (from, to, amount);
                }
                else
                {
                    Assert.True(response is { Status: HttpStatusCode.BadRequest, ErrorCode: "TXN_INSUFFICIENT_FUNDS" },
                        response.Text);
                }
            }
        })));

        // Replaying the acknowledged transfers from the funding gives the balances exactly.
        var expected = balances.ToDictionary(balance => balance, _ => new BigInteger(500));
        foreach (var (_, (from, to, amount)) in acknowledged)
        {
            expected[from] -= amount;
            expected[to] += amount;
        }
        var total = BigInteger.Zero;
        foreach (var balance in balances)
        {
            var row = await api.GetAsync($"balances/{balance}");
            var actual = row.Money("balance");
            Assert.True(actual >= 0, $"{balance} went below zero: {actual}");
            Assert.Equal(row.Money("credit_balance") - row.Money("debit_balance"), actual);
            Assert.Equal(expected[balance], actual);
            total += actual;
        }
        var world = await api.GetAsync($"balances/indicator/@World/currency/{currency}");
        Assert.Equal(BigInteger.Zero, total + world.Money("balance"));
        Assert.True(acknowledged.Count > Workers * TransfersPerWorker / 4, $"only {acknowledged.Count} applied");
        foreach (var reference in acknowledged.Keys)
        {
            Assert.Equal("APPLIED", (await api.GetAsync($"transactions/reference/{reference}")).Str("status"));
        }
    }
}
