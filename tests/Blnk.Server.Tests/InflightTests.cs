using System.Net;
using Blnk.TestSupport;
using static Blnk.Server.Tests.Lifecycle;

namespace Blnk.Server.Tests;

// Covers PUT /transactions/inflight/{id}: partial and full commits, voids, error codes and texts, the queued
// path, and the ids it accepts (hold, queued original, split parent, bulk batch) on both storages.
public sealed class InflightTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Partial_commits_by_amount_and_precise_amount_run_until_nothing_remains(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var hold = await api.HoldAsync(source, destination, 600);
        var holdId = hold.Str("transaction_id");
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 0, inflightDebit: 600));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(0, 0, inflightCredit: 600));

        AssertError(await api.InflightAsync(holdId, new { status = "commit", amount = 7, skip_queue = true }),
            HttpStatusCode.BadRequest, "TXN_COMMIT_AMOUNT_EXCEEDED", "error occurred during processing: " +
            "[cannot commit more than the original transaction amount. Original: USD6.00, Requested: USD7.00]");

        var first = await api.InflightAsync(holdId, new { status = "commit", amount = 2.5, skip_queue = true });
        Assert.True(first.Status == HttpStatusCode.OK, first.Text);
        Assert.Equal("APPLIED", first.Str("status"));
        Assert.Equal(250, first.Money("precise_amount"));
        Assert.Equal(holdId, first.Str("parent_transaction"));
        Assert.NotEqual(holdId, first.Str("transaction_id"));
        Assert.StartsWith("ref_", first.Str("reference"), StringComparison.Ordinal);
        Assert.Equal(source, first.Str("source"));
        Assert.Equal(destination, first.Str("destination"));
        Assert.False(first.Body.GetProperty("inflight").GetBoolean());
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 250, inflightDebit: 350));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(250, 0, inflightCredit: 350));

        AssertError(await api.InflightAsync(holdId, new { status = "commit", amount = 4, skip_queue = true }),
            HttpStatusCode.BadRequest, "TXN_COMMIT_AMOUNT_EXCEEDED", "error occurred during processing: " +
            "[cannot commit more than the remaining amount. Available: USD3.50, Requested: USD4.00]");

        var second = await api.InflightAsync(holdId, SyncCommit(101));
        Assert.True(second.Status == HttpStatusCode.OK, second.Text);
        Assert.Equal(101, second.Money("precise_amount"));
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 351, inflightDebit: 249));

        var rest = await api.InflightAsync(holdId, new { status = "commit", skip_queue = true });
        Assert.True(rest.Status == HttpStatusCode.OK, rest.Text);
        Assert.Equal("APPLIED", rest.Str("status"));
        Assert.Equal(249, rest.Money("precise_amount"));
        Assert.Equal(holdId, rest.Str("parent_transaction"));
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 600));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(600, 0));

        AssertError(await api.InflightAsync(holdId, new { status = "commit", skip_queue = true }),
            HttpStatusCode.Conflict, "TXN_ALREADY_COMMITTED",
            "error occurred during processing: [cannot commit. Transaction already committed]");
        AssertError(await api.InflightAsync(holdId, new { status = "void", skip_queue = true }),
            HttpStatusCode.Conflict, "TXN_ALREADY_COMMITTED",
            "error occurred during processing: [cannot void. Transaction already committed]");

        // The hold row itself stays INFLIGHT; its outcomes are children.
        var stored = await api.GetAsync($"transactions/{holdId}");
        Assert.Equal("INFLIGHT", stored.Str("status"));
        Assert.Equal(600, stored.Money("precise_amount"));
        var children = await api.ChildrenAsync(holdId);
        Assert.Equal(3, children.Count);
        Assert.All(children, child => Assert.Equal("APPLIED", child.GetProperty("status").GetString()));
        Assert.Equal(600, children.Sum(child => (long)Big(child, "precise_amount")));
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 600));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Void_after_a_partial_commit_releases_the_rest(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var holdId = (await api.HoldAsync(source, destination, 600)).Str("transaction_id");

        var commit = await api.InflightAsync(holdId, SyncCommit(200));
        Assert.True(commit.Status == HttpStatusCode.OK, commit.Text);
        var voided = await api.InflightAsync(holdId, new { status = "void", skip_queue = true });
        Assert.True(voided.Status == HttpStatusCode.OK, voided.Text);
        Assert.Equal("VOID", voided.Str("status"));
        Assert.Equal(400, voided.Money("precise_amount"));
        Assert.Equal(holdId, voided.Str("parent_transaction"));
        Assert.StartsWith("ref_", voided.Str("reference"), StringComparison.Ordinal);
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 200));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(200, 0));

        AssertError(await api.InflightAsync(holdId, new { status = "void", skip_queue = true }),
            HttpStatusCode.Conflict, "TXN_ALREADY_VOIDED",
            "error occurred during processing: [transaction has already been voided]");
        AssertError(await api.InflightAsync(holdId, new { status = "commit", precise_amount = 1, skip_queue = true }),
            HttpStatusCode.Conflict, "TXN_ALREADY_VOIDED",
            "error occurred during processing: [transaction has already been voided]");
        // The queued path checks the same before storing anything.
        AssertError(await api.InflightAsync(holdId, new { status = "commit" }), HttpStatusCode.Conflict,
            "TXN_ALREADY_VOIDED");
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 200));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Invalid_actions_are_refused_with_blnk_codes_and_change_nothing(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var holdId = (await api.HoldAsync(source, destination, 300)).Str("transaction_id");
        var applied = await api.TransferAsync(source, destination, 100);
        var appliedId = applied.Str("transaction_id");

        const string UnsupportedStatus = "status not supported. use either commit or void";
        foreach (var skipQueue in new[] { true, false })
        {
            var unknown = "txn_" + Guid.NewGuid();
            AssertError(await api.InflightAsync(holdId, new { status = "settle", skip_queue = skipQueue }),
                HttpStatusCode.BadRequest, "TXN_INVALID_STATUS_ACTION", UnsupportedStatus);
            AssertError(await api.InflightAsync(holdId, new { skip_queue = skipQueue }),
                HttpStatusCode.BadRequest, "TXN_INVALID_STATUS_ACTION", UnsupportedStatus);
            AssertError(
                await api.InflightAsync(holdId, new { status = "commit", precise_amount = 0, skip_queue = skipQueue }),
                HttpStatusCode.BadRequest, "TXN_INVALID_AMOUNT", "precise_amount must be positive");
            AssertError(
                await api.InflightAsync(holdId, new { status = "commit", precise_amount = -5, skip_queue = skipQueue }),
                HttpStatusCode.BadRequest, "TXN_INVALID_AMOUNT", "precise_amount must be positive");
            AssertError(await api.InflightAsync(holdId, new { status = "commit", amount = -1, skip_queue = skipQueue }),
                HttpStatusCode.BadRequest, "TXN_INVALID_AMOUNT", "commit amount cannot be negative");
            AssertError(await api.SendAsync(HttpMethod.Put, $"transactions/inflight/{holdId}",
                    $$"""{"status": "commit", "amount": 1e400, "skip_queue": {{(skipQueue ? "true" : "false")}}}"""),
                HttpStatusCode.BadRequest, "TXN_INVALID_AMOUNT", "commit amount must be a finite number");
            AssertError(await api.InflightAsync(unknown, new { status = "commit", skip_queue = skipQueue }),
                HttpStatusCode.BadRequest, "TXN_NOT_INFLIGHT", "no transaction to commit");
            AssertError(await api.InflightAsync(unknown, new { status = "void", skip_queue = skipQueue }),
                HttpStatusCode.BadRequest, "TXN_NOT_INFLIGHT", "no transaction to void");
            AssertError(await api.InflightAsync(appliedId, new { status = "commit", skip_queue = skipQueue }),
                HttpStatusCode.BadRequest, "TXN_NOT_INFLIGHT", "no transaction to commit");
            AssertError(await api.InflightAsync(appliedId, new { status = "void", skip_queue = skipQueue }),
                HttpStatusCode.BadRequest, "TXN_NOT_INFLIGHT", "no transaction to void");
            var exceeded = await api.InflightAsync(holdId,
                new { status = "commit", amount = 3.01, skip_queue = skipQueue });
            AssertError(exceeded, HttpStatusCode.BadRequest, "TXN_COMMIT_AMOUNT_EXCEEDED");
            Assert.Contains("cannot commit more than the original transaction amount. " +
                "Original: USD3.00, Requested: USD3.01", exceeded.ErrorMessage, StringComparison.Ordinal);
        }
        var malformed = await api.InflightAsync(holdId, "{\"status\": ");
        Assert.Equal(HttpStatusCode.BadRequest, malformed.Status);

        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 100, inflightDebit: 300));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(100, 0, inflightCredit: 300));
        Assert.Empty(await api.ChildrenAsync(holdId));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Queued_commit_answers_the_hold_marked_queued_and_applies_it_in_the_background(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var hold = await api.HoldAsync(source, destination, 500);
        var holdId = hold.Str("transaction_id");

        var queued = await api.InflightAsync(holdId, new { status = "commit", precise_amount = 200 });
        Assert.True(queued.Status == HttpStatusCode.OK, queued.Text);
        Assert.True(queued.Body.GetProperty("queued").GetBoolean());
        Assert.Equal(holdId, queued.Str("transaction_id"));
        Assert.Equal("INFLIGHT", queued.Str("status"));
        Assert.Equal(500, queued.Money("precise_amount"));
        await api.WaitForFiguresAsync(source, BalanceFigures.Of(1000, 200, inflightDebit: 300));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(200, 0, inflightCredit: 300));
        var commit = Assert.Single(await api.ChildrenAsync(holdId));
        Assert.Equal("APPLIED", commit.GetProperty("status").GetString());
        Assert.Equal(200, Big(commit, "precise_amount"));
        Assert.StartsWith(holdId + "_commit_", commit.GetProperty("reference").GetString(), StringComparison.Ordinal);

        var voiding = await api.InflightAsync(holdId, new { status = "void" });
        Assert.True(voiding.Status == HttpStatusCode.OK, voiding.Text);
        Assert.True(voiding.Body.GetProperty("queued").GetBoolean());
        // A second void is refused while the first is pending (GEN_CONFLICT) or once it is done (ALREADY_VOIDED).
        // If the first is applied between the second's check and its enqueue, the second is accepted (as in Blnk)
        // and refused when it is applied: there is never a second VOID row.
        var again = await api.InflightAsync(holdId, new { status = "void" });
        if (again.Status != HttpStatusCode.OK)
        {
            Assert.True(again.Status == HttpStatusCode.Conflict, again.Text);
            Assert.True(again.ErrorCode is "GEN_CONFLICT" or "TXN_ALREADY_VOIDED", again.Text);
            if (again.ErrorCode == "GEN_CONFLICT")
            {
                Assert.Equal("a commit or void is already queued for this transaction", again.ErrorMessage);
            }
        }
        await api.WaitForFiguresAsync(source, BalanceFigures.Of(1000, 200));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(200, 0));
        await Task.Delay(600);
        var children = await api.ChildrenAsync(holdId);
        Assert.Equal(2, children.Count);
        var voidRow = children.Single(child => child.GetProperty("status").GetString() == "VOID");
        Assert.Equal(300, Big(voidRow, "precise_amount"));
        AssertError(await api.InflightAsync(holdId, new { status = "void" }), HttpStatusCode.Conflict,
            "TXN_ALREADY_VOIDED");
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_queued_hold_is_acted_on_by_its_original_id(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();

        // Synchronous commit by the QUEUED id: the INFLIGHT outcome (its _q child) is the hold.
        var reference = NewReference("qhold");
        var queuedId = (await api.HoldAsync(source, destination, 400, skipQueue: false, reference))
            .Str("transaction_id");
        var inflight = await api.OutcomeAsync(reference, "INFLIGHT");
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 0, inflightDebit: 400));
        var commit = await api.InflightAsync(queuedId, SyncCommit(150));
        Assert.True(commit.Status == HttpStatusCode.OK, commit.Text);
        Assert.Equal(inflight.Str("transaction_id"), commit.Str("parent_transaction"));
        Assert.Equal(150, commit.Money("precise_amount"));
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 150, inflightDebit: 250));

        // Queued void by the QUEUED id: the answer is the INFLIGHT row, marked queued.
        var voiding = await api.InflightAsync(queuedId, new { status = "void" });
        Assert.True(voiding.Status == HttpStatusCode.OK, voiding.Text);
        Assert.Equal(inflight.Str("transaction_id"), voiding.Str("transaction_id"));
        Assert.True(voiding.Body.GetProperty("queued").GetBoolean());
        await api.WaitForFiguresAsync(source, BalanceFigures.Of(1000, 150));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(150, 0));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_split_parent_id_acts_on_every_leg(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var first = await api.CreateBalanceAsync();
        var second = await api.CreateBalanceAsync();
        async Task<string> SplitHoldAsync(bool skipQueue = true)
        {
            var reference = NewReference("split-hold");
            var response = await api.PostAsync("transactions", new
            {
                precise_amount = 300, precision = 100, currency = "USD", reference, description = "split hold", source,
                destinations = new[]
                {
                    new { identifier = first, distribution = "40%" },
                    new { identifier = second, distribution = "left" },
                },
                inflight = true, skip_queue = skipQueue,
            });
            Assert.True(response.Status == HttpStatusCode.Created, response.Text);
            if (skipQueue)
            {
                Assert.Equal("INFLIGHT", (await api.GetAsync($"transactions/reference/{reference}-1")).Str("status"));
                Assert.Equal("INFLIGHT", (await api.GetAsync($"transactions/reference/{reference}-2")).Str("status"));
            }
            else
            {
                await api.OutcomeAsync(reference + "_1", "INFLIGHT");
                await api.OutcomeAsync(reference + "_2", "INFLIGHT");
            }
            return response.Str("transaction_id");
        }

        var committed = await SplitHoldAsync();
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 0, inflightDebit: 300));
        var commit = await api.InflightAsync(committed, new { status = "commit", skip_queue = true });
        Assert.True(commit.Status == HttpStatusCode.OK, commit.Text);
        Assert.Equal("APPLIED", commit.Str("status"));
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 300));
        await api.AssertFiguresAsync(first, BalanceFigures.Of(120, 0));
        await api.AssertFiguresAsync(second, BalanceFigures.Of(180, 0));
        AssertError(await api.InflightAsync(committed, new { status = "commit", skip_queue = true }),
            HttpStatusCode.Conflict, "TXN_ALREADY_COMMITTED");

        var voided = await SplitHoldAsync();
        var queuedVoid = await api.InflightAsync(voided, new { status = "void" });
        Assert.True(queuedVoid.Status == HttpStatusCode.OK, queuedVoid.Text);
        Assert.True(queuedVoid.Body.GetProperty("queued").GetBoolean());
        await api.WaitForFiguresAsync(source, BalanceFigures.Of(1000, 300));
        await api.AssertFiguresAsync(first, BalanceFigures.Of(120, 0));
        await api.AssertFiguresAsync(second, BalanceFigures.Of(180, 0));

        // A queued split hold: the parent id reaches the INFLIGHT outcomes of its queued legs.
        var queued = await SplitHoldAsync(skipQueue: false);
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 300, inflightDebit: 300));
        var queuedCommit = await api.InflightAsync(queued, new { status = "commit", skip_queue = true });
        Assert.True(queuedCommit.Status == HttpStatusCode.OK, queuedCommit.Text);
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 600));
        await api.AssertFiguresAsync(first, BalanceFigures.Of(240, 0));
        await api.AssertFiguresAsync(second, BalanceFigures.Of(360, 0));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Commit_amounts_are_converted_with_the_holds_precision(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(0);
        var destination = await api.CreateBalanceAsync();
        var hold = await api.HoldAsync(source, destination, 5000,
            extra: new { precision = 1000, allow_overdraft = true });
        var holdId = hold.Str("transaction_id");
        Assert.Equal(1000, hold.Money("precision"));

        var partial = await api.InflightAsync(holdId, new { status = "commit", amount = 1.25, skip_queue = true });
        Assert.True(partial.Status == HttpStatusCode.OK, partial.Text);
        Assert.Equal(1250, partial.Money("precise_amount"));
        Assert.Equal(1000, partial.Money("precision"));
        // precise_amount wins over amount.
        var both = await api.InflightAsync(holdId,
            new { status = "commit", amount = 9, precise_amount = 10, skip_queue = true });
        Assert.True(both.Status == HttpStatusCode.OK, both.Text);
        Assert.Equal(10, both.Money("precise_amount"));
        // amount 0 means "everything that remains", as no amount does.
        var rest = await api.InflightAsync(holdId, new { status = "commit", amount = 0, skip_queue = true });
        Assert.True(rest.Status == HttpStatusCode.OK, rest.Text);
        Assert.Equal(3740, rest.Money("precise_amount"));
        await api.AssertFiguresAsync(source, BalanceFigures.Of(0, 5000));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(5000, 0));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_queued_commit_right_after_a_queued_hold_is_accepted(string dialect)
    {
        // Contract §4.5.5: the hold is found among INFLIGHT rows, "falling back to QUEUED rows flagged inflight that
        // have no INFLIGHT child and no <ref>_q REJECTED sibling" - so a client may commit as soon as it has the 201.
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        for (var i = 0; i < 5; i++)
        {
            var queuedId = (await api.HoldAsync(source, destination, 100, skipQueue: false)).Str("transaction_id");
            var commit = await api.InflightAsync(queuedId, new { status = "commit" });
            Assert.True(commit.Status == HttpStatusCode.OK, $"commit {i} right after the queued hold: {commit.Text}");
            Assert.True(commit.Body.GetProperty("queued").GetBoolean());
        }
        await api.WaitForFiguresAsync(source, BalanceFigures.Of(1000, 500));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(500, 0));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Queued_actions_on_multi_leg_holds_are_accepted_every_time(string dialect)
    {
        // Each request stores one action per leg in one statement batch; repeating it must keep working (the
        // same statements run again and again on pooled connections).
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var first = await api.CreateBalanceAsync();
        var second = await api.CreateBalanceAsync();
        for (var i = 0; i < 5; i++)
        {
            var split = await api.CreateAsync(new
            {
                precise_amount = 300, precision = 100, currency = "USD", reference = NewReference("legs"),
                description = "split hold", source, inflight = true, skip_queue = true,
                destinations = new[]
                {
                    new { identifier = first, distribution = "50%" }, new { identifier = second, distribution = "50%" },
                },
            });
            var voiding = await api.InflightAsync(split.Str("transaction_id"), new { status = "void" });
            Assert.True(voiding.Status == HttpStatusCode.OK, $"queued void {i}: {voiding.Text}");
            await api.WaitForFiguresAsync(source, BalanceFigures.Of(1000, 0));
        }
        await api.AssertFiguresAsync(first, BalanceFigures.Of(0, 0));
    }

    /// <summary>
    /// A writer that keeps up applies a queued commit at once (decision 35): the answer is still the hold marked
    /// queued, but the commit is there as the answer is, under the reference a stored action would have given it,
    /// and no action was stored (a trigger counts them). A request already stored for a hold still refuses the
    /// next one with GEN_CONFLICT, as on the stored path.
    /// </summary>
    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_writer_that_keeps_up_applies_a_queued_commit_at_once(string dialect)
    {
        var dataSource = await ServerFixture.NewDataSourceAsync(dialect);
        await using var server = await ServerProcess.StartAsync(dataSource);
        var api = new Api(server.Client);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var holdId = (await api.HoldAsync(source, destination, 500)).Str("transaction_id");
        var pendingId = (await api.HoldAsync(source, destination, 100)).Str("transaction_id");
        await using var connection = await TestStores.OpenRawConnectionAsync(dataSource);
        await InsertProbe.InstallAsync(connection, dialect, "inflight_actions");

        var queued = await api.InflightAsync(holdId, new { status = "commit", precise_amount = 200 });
        Assert.True(queued.Status == HttpStatusCode.OK, queued.Text);
        Assert.True(queued.Body.GetProperty("queued").GetBoolean());
        Assert.Equal("INFLIGHT", queued.Str("status"));
        var commit = Assert.Single(await api.ChildrenAsync(holdId));
        Assert.Equal("APPLIED", commit.GetProperty("status").GetString());
        Assert.StartsWith(holdId + "_commit_act_", commit.GetProperty("reference").GetString(),
            StringComparison.Ordinal);
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 200, inflightDebit: 400));
        Assert.Equal(0L, await InsertProbe.CountAsync(connection, "inflight_actions"));

        await TestStores.ScalarAsync(connection, StoredRequestSql(dialect, pendingId));
        AssertError(await api.InflightAsync(pendingId, new { status = "void" }), HttpStatusCode.Conflict,
            "GEN_CONFLICT", "a commit or void is already queued for this transaction");
        Assert.Empty(await api.ChildrenAsync(pendingId));
        Assert.Equal(1L, await InsertProbe.CountAsync(connection, "inflight_actions"));
    }

    /// <summary>A commit request stored for the hold and not due for a century: pending all through the test.</summary>
    private static string StoredRequestSql(string dialect, string holdId)
    {
        var (due, leasedUntil) = dialect == TestStores.Sqlite
            ? ("4102444800000000", "0")
            : ("'2100-01-01T00:00:00Z'", "'1970-01-01T00:00:00Z'");
        return "INSERT INTO inflight_actions (action_id, transaction_id, action, precise_amount, origin, " +
            "available_at, lease_until) " +
            $"VALUES ('act_stored', '{holdId}', 'commit', NULL, 'request', {due}, {leasedUntil})";
    }
}
