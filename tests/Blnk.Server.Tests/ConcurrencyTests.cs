using System.Collections.Concurrent;
using System.Net;
using System.Numerics;
using Blnk.TestSupport;

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
