using System.Net;
using static Blnk.Server.Tests.Lifecycle;

namespace Blnk.Server.Tests;

// Covers POST /refund-transaction/{id}: the refund row, once per transaction (also under concurrency), queued
// originals and queued refunds, VOID rows, overrides, dry runs and the error answers, on both storages.
public sealed class RefundTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_refund_swaps_the_balances_restores_them_and_happens_once(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var original = await api.CreateAsync(
            Transaction(source, destination, 300, NewReference("paid"), extra: new { meta_data = new { order = 7 } }));
        var originalId = original.Str("transaction_id");

        var refund = await api.PostAsync($"refund-transaction/{originalId}", new { skip_queue = true });
        Assert.True(refund.Status == HttpStatusCode.Created, refund.Text);
        Assert.Equal("APPLIED", refund.Str("status"));
        Assert.Equal(destination, refund.Str("source"));
        Assert.Equal(source, refund.Str("destination"));
        Assert.Equal(originalId + "_refund", refund.Str("reference"));
        Assert.Equal(originalId, refund.Str("parent_transaction"));
        Assert.NotEqual(originalId, refund.Str("transaction_id"));
        Assert.True(refund.Body.GetProperty("allow_overdraft").GetBoolean());
        Assert.Equal(300, refund.Money("precise_amount"));
        Assert.Equal(100, refund.Money("precision"));
        Assert.Equal("USD", refund.Str("currency"));
        Assert.Equal("lifecycle", refund.Str("description"));
        Assert.Equal(7, refund.Body.GetProperty("meta_data").GetProperty("order").GetInt32());
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1300, 300));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(300, 300));
        Assert.Equal(refund.Str("transaction_id"),
            (await api.GetAsync($"transactions/reference/{originalId}_refund")).Str("transaction_id"));

        var message = $"error occurred during processing: [transaction {originalId} has already been refunded]";
        AssertError(await api.PostAsync($"refund-transaction/{originalId}", new { skip_queue = true }),
            HttpStatusCode.Conflict, "GEN_CONFLICT", message);
        AssertError(await api.PostAsync($"refund-transaction/{originalId}", new { }), HttpStatusCode.Conflict,
            "GEN_CONFLICT", message);
        var noBody = await api.SendAsync(HttpMethod.Post, $"refund-transaction/{originalId}", null);
        AssertError(noBody, HttpStatusCode.Conflict, "GEN_CONFLICT", message);
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1300, 300));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Concurrent_refunds_of_one_transaction_refund_it_once(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var originalId = (await api.TransferAsync(source, destination, 400)).Str("transaction_id");

        var responses = await Task.WhenAll(Enumerable.Range(0, 12).Select(i =>
            api.PostAsync($"refund-transaction/{originalId}", new { skip_queue = i % 2 == 0 })));

        Assert.Single(responses, response => response.Status == HttpStatusCode.Created);
        Assert.All(responses.Where(response => response.Status != HttpStatusCode.Created),
            response => AssertError(response, HttpStatusCode.Conflict, "GEN_CONFLICT"));
        await api.WaitForFiguresAsync(source, BalanceFigures.Of(1400, 400));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(400, 400));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Refunding_a_queued_transaction_refunds_its_applied_outcome(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var reference = NewReference("queued-paid");
        var queuedId = (await api.TransferAsync(source, destination, 250, skipQueue: false, reference))
            .Str("transaction_id");
        var applied = await api.OutcomeAsync(reference, "APPLIED");

        var refund = await api.PostAsync($"refund-transaction/{queuedId}", new { skip_queue = true });
        Assert.True(refund.Status == HttpStatusCode.Created, refund.Text);
        Assert.Equal(applied.Str("transaction_id"), refund.Str("parent_transaction"));
        Assert.Equal(applied.Str("transaction_id") + "_refund", refund.Str("reference"));
        Assert.Equal(destination, refund.Str("source"));
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1250, 250));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(250, 250));
        // By the outcome's own id it is the same refund.
        var appliedId = applied.Str("transaction_id");
        AssertError(await api.PostAsync($"refund-transaction/{appliedId}", new { skip_queue = true }),
            HttpStatusCode.Conflict, "GEN_CONFLICT");
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_queued_refund_is_stored_queued_then_applied(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var originalId = (await api.TransferAsync(source, destination, 120)).Str("transaction_id");

        var refund = await api.PostAsync($"refund-transaction/{originalId}", new { });
        Assert.True(refund.Status == HttpStatusCode.Created, refund.Text);
        Assert.Equal("QUEUED", refund.Str("status"));
        Assert.Equal(originalId + "_refund", refund.Str("reference"));
        Assert.Equal(originalId, refund.Str("parent_transaction"));
        var outcome = await api.OutcomeAsync(originalId + "_refund", "APPLIED");
        Assert.Equal(refund.Str("transaction_id"), outcome.Str("parent_transaction"));
        Assert.Equal(120, outcome.Money("precise_amount"));
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1120, 120));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(120, 120));
        AssertError(await api.PostAsync($"refund-transaction/{originalId}", new { skip_queue = true }),
            HttpStatusCode.Conflict, "GEN_CONFLICT");
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1120, 120));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Refunding_a_void_row_creates_an_inflight_refund(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var holdId = (await api.HoldAsync(source, destination, 300)).Str("transaction_id");
        var voided = await api.InflightAsync(holdId, new { status = "void", skip_queue = true });
        Assert.Equal(HttpStatusCode.OK, voided.Status);
        var voidId = voided.Str("transaction_id");

        var refund = await api.PostAsync($"refund-transaction/{voidId}", new { skip_queue = true });
        Assert.True(refund.Status == HttpStatusCode.Created, refund.Text);
        Assert.Equal("INFLIGHT", refund.Str("status"));
        Assert.True(refund.Body.GetProperty("inflight").GetBoolean());
        Assert.Equal(voidId, refund.Str("parent_transaction"));
        Assert.Equal(voidId + "_refund", refund.Str("reference"));
        Assert.Equal(destination, refund.Str("source"));
        Assert.Equal(300, refund.Money("precise_amount"));
        // The refund holds the amount the other way (overdraft allowed): nothing is applied yet.
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 0, inflightCredit: 300));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(0, 0, inflightDebit: 300));
        AssertError(await api.PostAsync($"refund-transaction/{voidId}", new { skip_queue = true }),
            HttpStatusCode.Conflict, "GEN_CONFLICT");

        // The refund is an ordinary hold: committing it moves the money back.
        var commit = await api.InflightAsync(refund.Str("transaction_id"), SyncCommit());
        Assert.True(commit.Status == HttpStatusCode.OK, commit.Text);
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1300, 0));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(0, 300));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Nothing_refundable_is_refused(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(100);
        var destination = await api.CreateBalanceAsync();

        AssertError(await api.PostAsync($"refund-transaction/txn_{Guid.NewGuid()}", new { skip_queue = true }),
            HttpStatusCode.NotFound, "TXN_NOT_FOUND", "no transaction to refund");

        var holdId = (await api.HoldAsync(source, destination, 50)).Str("transaction_id");
        var inflight = await api.PostAsync($"refund-transaction/{holdId}", new { skip_queue = true });
        Assert.True(inflight.Status == HttpStatusCode.BadRequest, inflight.Text);
        Assert.Contains("cannot be refunded", inflight.ErrorMessage, StringComparison.Ordinal);

        // A queued transaction whose outcome was REJECTED has nothing to refund.
        var reference = NewReference("rejected");
        var queuedId = (await api.TransferAsync(source, destination, 1000, skipQueue: false, reference))
            .Str("transaction_id");
        await api.OutcomeAsync(reference, "REJECTED");
        var rejected = await api.PostAsync($"refund-transaction/{queuedId}", new { skip_queue = true });
        Assert.True(rejected.Status == HttpStatusCode.BadRequest, rejected.Text);
        Assert.Contains("cannot be refunded", rejected.ErrorMessage, StringComparison.Ordinal);

        var malformed = await api.PostAsync($"refund-transaction/{holdId}", "{\"skip_queue\": ");
        Assert.Equal(HttpStatusCode.BadRequest, malformed.Status);
        await api.AssertFiguresAsync(source, BalanceFigures.Of(100, 0, inflightDebit: 50));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(0, 0, inflightCredit: 50));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Description_and_meta_data_override_the_original(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var originalId = (await api.CreateAsync(Transaction(source, destination, 100, NewReference("meta"),
            extra: new { meta_data = new { order = 7, channel = "web" } }))).Str("transaction_id");

        var refund = await api.PostAsync($"refund-transaction/{originalId}", new
        {
            skip_queue = true, description = "money back", meta_data = new { channel = "support", ticket = "T-1" },
        });
        Assert.True(refund.Status == HttpStatusCode.Created, refund.Text);
        Assert.Equal("money back", refund.Str("description"));
        var metaData = refund.Body.GetProperty("meta_data");
        Assert.Equal(7, metaData.GetProperty("order").GetInt32());
        Assert.Equal("support", metaData.GetProperty("channel").GetString());
        Assert.Equal("T-1", metaData.GetProperty("ticket").GetString());
        var stored = await api.GetAsync($"transactions/{refund.Str("transaction_id")}");
        Assert.Equal("money back", stored.Str("description"));
        Assert.Equal("support", stored.Body.GetProperty("meta_data").GetProperty("channel").GetString());
        // The original is untouched.
        var original = await api.GetAsync($"transactions/{originalId}");
        Assert.Equal("lifecycle", original.Str("description"));
        Assert.Equal("web", original.Body.GetProperty("meta_data").GetProperty("channel").GetString());
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Refunding_a_hold_refunds_its_commits_and_reopens_its_void(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var holdId = (await api.HoldAsync(source, destination, 600)).Str("transaction_id");
        var firstCommit = await api.InflightAsync(holdId, SyncCommit(200));
        Assert.Equal(HttpStatusCode.OK, firstCommit.Status);
        Assert.Equal(HttpStatusCode.OK,
            (await api.InflightAsync(holdId, SyncCommit(100))).Status);
        Assert.Equal(HttpStatusCode.OK, (await api.InflightAsync(holdId, SyncVoid)).Status);
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 300));

        // Every APPLIED or VOID row under the hold: two commits are reversed, the void becomes a hold the other way.
        var refund = await api.PostAsync($"refund-transaction/{holdId}", new { skip_queue = true });
        Assert.True(refund.Status == HttpStatusCode.Created, refund.Text);
        Assert.Equal(firstCommit.Str("transaction_id") + "_refund", refund.Str("reference"));
        Assert.Equal(200, refund.Money("precise_amount"));
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1300, 300, inflightCredit: 300));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(300, 300, inflightDebit: 300));
        AssertError(await api.PostAsync($"refund-transaction/{holdId}", new { skip_queue = true }),
            HttpStatusCode.Conflict, "GEN_CONFLICT");
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_refund_may_overdraw_the_balance_it_takes_from(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var middle = await api.CreateBalanceAsync();
        var onward = await api.CreateBalanceAsync();
        var originalId = (await api.TransferAsync(source, middle, 300)).Str("transaction_id");
        Assert.Equal(HttpStatusCode.Created, (await api.TransferAsync(middle, onward, 300)).Status);

        var refund = await api.PostAsync($"refund-transaction/{originalId}", new { skip_queue = true });
        Assert.True(refund.Status == HttpStatusCode.Created, refund.Text);
        await api.AssertFiguresAsync(middle, BalanceFigures.Of(300, 600));
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1300, 300));
    }
}
