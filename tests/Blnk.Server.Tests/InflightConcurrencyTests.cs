using System.Net;
using System.Numerics;
using Blnk.TestSupport;
using Xunit.Abstractions;
using static Blnk.Server.Tests.Lifecycle;

namespace Blnk.Server.Tests;

// Covers inflight actions that race: many commits of one hold, commits racing the hold's expiry, and many
// holds committed at once; each hold gets exactly one outcome, on both storages. And holds acted on from two
// server processes, whose writers decide from the holds and balances they remember: the stored progress decides.
public sealed class InflightConcurrencyTests(ServerFixture fixture, ITestOutputHelper output)
    : IClassFixture<ServerFixture>
{
    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Fifty_concurrent_full_commits_apply_exactly_once(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var holdId = (await api.HoldAsync(source, destination, 700)).Str("transaction_id");

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ =>
            api.InflightAsync(holdId, new { status = "commit", skip_queue = true })));

        var committed = Assert.Single(responses, response => response.Status == HttpStatusCode.OK);
        Assert.Equal(700, committed.Money("precise_amount"));
        Assert.All(responses.Where(response => response != committed), response => AssertError(response,
            HttpStatusCode.Conflict, "TXN_ALREADY_COMMITTED",
            "error occurred during processing: [cannot commit. Transaction already committed]"));
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 700));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(700, 0));
        Assert.Single(await api.ChildrenAsync(holdId));
    }

    // On PostgreSQL the holds' lookups are answered in shared statements (FamilyReader); each commit must still
    // find its own hold and nothing else. Every hold has its own destination and amount, so a commit that acted on
    // another request's hold shows in the figures, the commit rows or the answers.
    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Two_hundred_concurrent_commits_of_distinct_holds_each_commit_their_own(string dialect)
    {
        const int Holds = 200;
        const long Funds = 1_000_000;
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(Funds);
        var holds = await Task.WhenAll(Enumerable.Range(1, Holds).Select(async index =>
        {
            var amount = (long)index;
            var destination = await api.CreateBalanceAsync();
            var hold = await api.HoldAsync(source, destination, amount);
            return (HoldId: hold.Str("transaction_id"), Destination: destination, Amount: amount);
        }));

        var answers = await Task.WhenAll(holds.Select(hold => api.InflightAsync(hold.HoldId, SyncCommit())));

        foreach (var (hold, answer) in holds.Zip(answers))
        {
            Assert.True(answer.Status == HttpStatusCode.OK, answer.Text);
            Assert.Equal(("APPLIED", hold.HoldId, hold.Destination, hold.Amount), (answer.Str("status"),
                answer.Str("parent_transaction"), answer.Str("destination"), (long)answer.Money("precise_amount")));
            await api.AssertFiguresAsync(hold.Destination, BalanceFigures.Of(hold.Amount, 0));
        }
        await api.AssertFiguresAsync(source, BalanceFigures.Of(Funds, holds.Sum(hold => hold.Amount)));
        var stored = (await api.GetAsync("transactions?limit=1000")).Body.EnumerateArray()
            .Where(row => row.GetProperty("status").GetString() == "APPLIED")
            .ToLookup(row => row.GetProperty("parent_transaction").GetString()!);
        Assert.All(holds, hold => Assert.Equal(hold.Amount, Big(Assert.Single(stored[hold.HoldId]), "precise_amount")));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Concurrent_partial_commits_never_exceed_the_hold(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var holdId = (await api.HoldAsync(source, destination, 1000)).Str("transaction_id");

        var responses = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ =>
            api.InflightAsync(holdId, new { status = "commit", precise_amount = 30, skip_queue = true })));

        // 33 × 30 = 990 fit; the 34th would need 30 of the 10 left.
        Assert.Equal(33, responses.Count(response => response.Status == HttpStatusCode.OK));
        Assert.All(responses.Where(response => response.Status != HttpStatusCode.OK), response =>
        {
            AssertError(response, HttpStatusCode.BadRequest, "TXN_COMMIT_AMOUNT_EXCEEDED");
            Assert.Contains("Available: USD0.10, Requested: USD0.30", response.ErrorMessage, StringComparison.Ordinal);
        });
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 990, inflightDebit: 10));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(990, 0, inflightCredit: 10));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_commit_racing_the_expiry_gives_exactly_one_outcome(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        const int Holds = 8;
        var pairs = new List<(string Source, string Destination)>();
        for (var i = 0; i < Holds; i++)
        {
            pairs.Add((await api.FundedBalanceAsync(500), await api.CreateBalanceAsync()));
        }
        // Wide margins: under a loaded CI machine a commit request can take several hundred milliseconds.
        var expiry = DateTime.UtcNow.AddMilliseconds(4000);
        var holds = (await Task.WhenAll(pairs.Select(async pair =>
        {
            var hold = await api.HoldAsync(pair.Source, pair.Destination, 500,
                extra: new { inflight_expiry_date = Rfc3339(expiry) });
            return (pair.Source, pair.Destination, HoldId: hold.Str("transaction_id"));
        }))).ToList();
        Assert.True(DateTime.UtcNow < expiry - TimeSpan.FromMilliseconds(1500),
            "setup took too long to race the expiry");

        // Hold i is committed (three requests at once) at expiry − 1500 ms + i × 300 ms: the first ones well
        // before the expiry, the last ones after it.
        var attempts = holds.Select(async (hold, i) =>
        {
            var fireAt = expiry + TimeSpan.FromMilliseconds(-1500 + (i * 300));
            var wait = fireAt - DateTime.UtcNow;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait);
            }
            return await Task.WhenAll(Enumerable.Range(0, 3).Select(_ =>
                api.InflightAsync(hold.HoldId, new { status = "commit", skip_queue = true })));
        }).ToList();
        var outcomes = await Task.WhenAll(attempts);

        var committed = 0;
        for (var i = 0; i < Holds; i++)
        {
            var (source, destination, holdId) = holds[i];
            var ok = outcomes[i].Count(response => response.Status == HttpStatusCode.OK);
            Assert.True(ok <= 1, $"hold {i} was committed {ok} times");
            if (ok == 1)
            {
                committed++;
                Assert.All(outcomes[i].Where(response => response.Status != HttpStatusCode.OK),
                    response => AssertError(response, HttpStatusCode.Conflict, "TXN_ALREADY_COMMITTED"));
            }
            else
            {
                Assert.All(outcomes[i],
                    response => AssertError(response, HttpStatusCode.Conflict, "TXN_ALREADY_VOIDED"));
            }
            // Whatever the expiry does afterwards, the balances show one outcome: all committed or all released.
            var expectedSource = ok == 1 ? BalanceFigures.Of(500, 500) : BalanceFigures.Of(500, 0);
            var expectedDestination = ok == 1 ? BalanceFigures.Of(500, 0) : BalanceFigures.Of(0, 0);
            await api.WaitForFiguresAsync(source, expectedSource);
            await api.AssertFiguresAsync(destination, expectedDestination);
            var children = await api.ChildrenAsync(holdId, scan: 500);
            var child = Assert.Single(children);
            Assert.Equal(ok == 1 ? "APPLIED" : "VOID", child.GetProperty("status").GetString());
        }
        // Stays that way once the expiry has certainly run.
        await Task.Delay(700);
        for (var i = 0; i < Holds; i++)
        {
            Assert.Single(await api.ChildrenAsync(holds[i].HoldId, scan: 500));
        }
        output.WriteLine($"{dialect}: {committed} of {Holds} holds committed before their expiry, the rest voided");
        Assert.True(committed >= 1, "no commit beat the expiry (the first one fires 1.5 s before it)");
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Racing_commits_and_voids_of_one_hold_give_one_outcome(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var holdId = (await api.HoldAsync(source, destination, 400)).Str("transaction_id");

        var responses = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            api.InflightAsync(holdId, new { status = i % 2 == 0 ? "commit" : "void", skip_queue = true })));

        var winner = Assert.Single(responses, response => response.Status == HttpStatusCode.OK);
        var committed = winner.Str("status") == "APPLIED";
        Assert.Equal(committed ? "APPLIED" : "VOID", winner.Str("status"));
        Assert.Equal(400, winner.Money("precise_amount"));
        Assert.All(responses.Where(response => response != winner), response => AssertError(response,
            HttpStatusCode.Conflict, committed ? "TXN_ALREADY_COMMITTED" : "TXN_ALREADY_VOIDED"));
        await api.AssertFiguresAsync(source, committed ? BalanceFigures.Of(1000, 400) : BalanceFigures.Of(1000, 0));
        await api.AssertFiguresAsync(destination, committed ? BalanceFigures.Of(400, 0) : BalanceFigures.Of(0, 0));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Concurrent_queued_full_commits_apply_exactly_once(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var holdId = (await api.HoldAsync(source, destination, 600)).Str("transaction_id");

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ =>
            api.InflightAsync(holdId, new { status = "commit" })));

        Assert.Contains(responses, response => response.Status == HttpStatusCode.OK);
        Assert.All(responses, response =>
        {
            if (response.Status == HttpStatusCode.OK)
            {
                Assert.True(response.Body.GetProperty("queued").GetBoolean());
            }
            else
            {
                Assert.True(response.Status == HttpStatusCode.Conflict, response.Text);
                Assert.True(response.ErrorCode is "GEN_CONFLICT" or "TXN_ALREADY_COMMITTED", response.Text);
            }
        });
        output.WriteLine($"{dialect}: " + string.Join(", ", responses
            .GroupBy(response => response.Status == HttpStatusCode.OK ? "200 queued" : response.ErrorCode)
            .Select(group => $"{group.Count()} × {group.Key}")));
        await api.WaitForFiguresAsync(source, BalanceFigures.Of(1000, 600));
        await Task.Delay(600);
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 600));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(600, 0));
        Assert.Single(await api.ChildrenAsync(holdId));
    }
    /// <summary>
    /// A writer remembers a hold's progress with the balances it is true of. Another process commits part of the
    /// hold; this process then learns both balances afresh (a split that also pays a balance it has never seen, so
    /// nothing of it is recalled) without touching the hold. Its remembered progress no longer follows from those
    /// balances: a commit of the whole hold must be refused for the part the other process took (a second hold keeps
    /// enough in flight that the balances alone would not refuse it).
    /// </summary>
    [Fact]
    public async Task A_hold_another_process_committed_is_decided_from_its_stored_progress()
    {
        await using var processes = await TwoProcesses.StartAsync();
        var (one, two) = (processes.One, processes.Two);
        var payer = await one.FundedBalanceAsync(1000);
        var payee = await one.CreateBalanceAsync();
        var holdId = (await one.HoldAsync(payer, payee, 100)).Str("transaction_id");
        await one.HoldAsync(payer, payee, 100);

        Assert.Equal(HttpStatusCode.OK, (await two.InflightAsync(holdId, SyncCommit(60))).Status);
        var unseen = await two.CreateBalanceAsync();
        await one.CreateAsync(new
        {
            precise_amount = 2, precision = 100, currency = "USD", reference = NewReference("split"),
            description = "split", source = payer, skip_queue = true,
            destinations = new[]
            {
                new { identifier = payee, distribution = "50%" }, new { identifier = unseen, distribution = "50%" },
            },
        });

        AssertError(await one.InflightAsync(holdId, SyncCommit(100)), HttpStatusCode.BadRequest,
            "TXN_COMMIT_AMOUNT_EXCEEDED", "error occurred during processing: [cannot commit more than the remaining " +
            "amount. Available: USD0.40, Requested: USD1.00]");
        var rest = await one.InflightAsync(holdId, SyncCommit());
        Assert.Equal((HttpStatusCode.OK, 40), (rest.Status, (int)rest.Money("precise_amount")));
        await one.AssertFiguresAsync(payer, BalanceFigures.Of(1000, 102, inflightDebit: 100));
        await two.AssertFiguresAsync(payee, BalanceFigures.Of(101, 0, inflightCredit: 100));
    }

    /// <summary>
    /// A process answers an action on a hold it remembers unvoided without looking up what lies under the hold.
    /// Another process voids the hold and refunds the void, which makes a new hold under it. The action is still
    /// refused as voided (the hold comes first, and an action acts on all or none), and the refund's hold is left
    /// as it was: the answer a lookup of the whole family gives.
    /// </summary>
    [Fact]
    public async Task A_hold_another_process_voided_and_refunded_is_refused_as_voided()
    {
        await using var processes = await TwoProcesses.StartAsync();
        var (one, two) = (processes.One, processes.Two);
        var payer = await one.FundedBalanceAsync(1000);
        var payee = await one.CreateBalanceAsync();
        var holdId = (await one.HoldAsync(payer, payee, 100)).Str("transaction_id");
        var voided = await two.InflightAsync(holdId, new { status = "void", skip_queue = true });
        Assert.Equal(HttpStatusCode.OK, voided.Status);
        var refund = await two.PostAsync($"refund-transaction/{voided.Str("transaction_id")}", new { skip_queue = true });
        Assert.Equal("INFLIGHT", refund.Str("status"));

        foreach (var action in new object[] { SyncCommit(), new { status = "void", skip_queue = true } })
        {
            AssertError(await one.InflightAsync(holdId, action), HttpStatusCode.Conflict, "TXN_ALREADY_VOIDED");
        }
        await one.AssertFiguresAsync(payer, BalanceFigures.Of(1000, 0, inflightCredit: 100));
        await one.AssertFiguresAsync(payee, BalanceFigures.Of(0, 0, inflightDebit: 100));
        Assert.Equal(HttpStatusCode.OK, (await one.InflightAsync(refund.Str("transaction_id"), SyncCommit())).Status);
        await two.AssertFiguresAsync(payer, BalanceFigures.Of(1100, 0));
    }

    /// <summary>
    /// Many holds, each committed in parts and voided by requests spread over two processes at once (one running
    /// several writer loops and remembering so few balances that it keeps dropping them under its holds): no hold
    /// is committed past its amount or acted on after its void, and every balance holds exactly what the holds'
    /// outcomes say.
    /// </summary>
    [Fact]
    public async Task Holds_acted_on_from_two_processes_at_once_keep_every_rule()
    {
        await using var processes = await TwoProcesses.StartAsync(new Dictionary<string, string>
        {
            ["BLNK_TRANSACTION_WRITER_LOOPS"] = "3", ["BLNK_TRANSACTION_REMEMBERED_BALANCES"] = "3",
        });
        Api[] apis = [processes.One, processes.Two];
        const int HoldCount = 30;
        var payers = new[] { await apis[0].FundedBalanceAsync(10_000), await apis[1].FundedBalanceAsync(10_000) };
        var payees = new[] { await apis[0].CreateBalanceAsync(), await apis[1].CreateBalanceAsync() };
        var holds = await Task.WhenAll(Enumerable.Range(0, HoldCount).Select(async i =>
            (await apis[i % 2].HoldAsync(payers[i % 2], payees[(i / 2) % 2], 100)).Str("transaction_id")));

        // Per hold: nine commits of 20 and one void, from both processes, all at once.
        var actions = holds.SelectMany((holdId, i) => Enumerable.Range(0, 10).Select(j =>
            (HoldId: holdId, Payer: payers[i % 2], Payee: payees[(i / 2) % 2], Void: j == 7,
                Response: apis[(i + j) % 2].InflightAsync(holdId,
                    j == 7 ? new { status = "void", skip_queue = true } : SyncCommit(20))))).ToList();
        await Task.WhenAll(actions.Select(action => action.Response));

        var expected = payers.Concat(payees).ToDictionary(id => id, _ => (Credit: BigInteger.Zero,
            Debit: BigInteger.Zero, InflightDebit: BigInteger.Zero, InflightCredit: BigInteger.Zero));
        foreach (var hold in actions.GroupBy(action => (action.HoldId, action.Payer, action.Payee)))
        {
            var ok = hold.Where(action => action.Response.Result.Status == HttpStatusCode.OK).ToList();
            var voided = ok.Exists(action => action.Void);
            var committed = ok.Count(action => !action.Void) * 20;
            Assert.True(committed <= 100, $"hold {hold.Key.HoldId} committed {committed} of 100");
            Assert.All(hold.Where(action => action.Response.Result.Status != HttpStatusCode.OK), action =>
                Assert.True(action.Response.Result.ErrorCode is "TXN_COMMIT_AMOUNT_EXCEEDED" or "TXN_ALREADY_VOIDED"
                    or "TXN_ALREADY_COMMITTED", action.Response.Result.Text));
            var children = (await apis[0].ChildrenAsync(hold.Key.HoldId, scan: 1000))
                .Select(child => (Status: child.GetProperty("status").GetString(), Amount: Big(child, "precise_amount")))
                .ToList();
            Assert.Equal(committed, (int)children.Where(child => child.Status == "APPLIED").Sum(child => (long)child.Amount));
            Assert.Equal(voided ? 1 : 0, children.Count(child => child.Status == "VOID"));
            var remaining = voided ? 0 : 100 - committed;
            var (payer, payee) = (expected[hold.Key.Payer], expected[hold.Key.Payee]);
            expected[hold.Key.Payer] = payer with { Debit = payer.Debit + committed,
                InflightDebit = payer.InflightDebit + remaining };
            expected[hold.Key.Payee] = payee with { Credit = payee.Credit + committed,
                InflightCredit = payee.InflightCredit + remaining };
        }
        foreach (var (id, figures) in expected)
        {
            var funded = payers.Contains(id) ? 10_000 : 0;
            await apis[0].AssertFiguresAsync(id, BalanceFigures.Of(funded + (long)figures.Credit, (long)figures.Debit,
                inflightDebit: (long)figures.InflightDebit, inflightCredit: (long)figures.InflightCredit));
        }
    }

    /// <summary>Two server processes on one new PostgreSQL database; the second with <c>secondEnvironment</c>.</summary>
    private sealed record TwoProcesses(ServerProcess First, ServerProcess Second) : IAsyncDisposable
    {
        public Api One { get; } = new(First.Client);
        public Api Two { get; } = new(Second.Client);

        public static async Task<TwoProcesses> StartAsync(Dictionary<string, string>? secondEnvironment = null)
        {
            var dns = await (await PostgresCluster.SharedAsync()).CreateDatabaseAsync();
            var first = await ServerProcess.StartAsync(dns);
            try
            {
                return new TwoProcesses(first, await ServerProcess.StartAsync(dns, secondEnvironment));
            }
            catch
            {
                await first.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await Second.DisposeAsync();
            await First.DisposeAsync();
        }
    }
}
