using System.Net;
using Xunit.Abstractions;
using static Blnk.Server.Tests.Lifecycle;

namespace Blnk.Server.Tests;

// Covers inflight actions that race: many commits of one hold, commits racing the hold's expiry, and many
// holds committed at once; each hold gets exactly one outcome, on both storages.
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
}
