using System.Net;
using static Blnk.Server.Tests.Lifecycle;

namespace Blnk.Server.Tests;

// Covers holds that resolve themselves: inflight_expiry_date voids and inflight_commit_date commits at their
// time (synchronous and queued holds), and what happens to a hold afterwards, on both storages.
public sealed class InflightExpiryTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task An_expiry_voids_the_hold_at_its_time(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var queuedSource = await api.FundedBalanceAsync(1000);
        var expiry = DateTime.UtcNow.AddSeconds(2);
        var hold = await api.HoldAsync(source, destination, 400, extra: new { inflight_expiry_date = Rfc3339(expiry) });
        var holdId = hold.Str("transaction_id");
        Assert.StartsWith(Rfc3339(expiry)[..19], hold.Str("inflight_expiry_date"), StringComparison.Ordinal);
        // A queued hold gets its expiry from its INFLIGHT outcome.
        var queuedReference = NewReference("qexp");
        await api.HoldAsync(queuedSource, destination, 300, skipQueue: false, queuedReference,
            new { inflight_expiry_date = Rfc3339(expiry) });
        await api.OutcomeAsync(queuedReference, "INFLIGHT");

        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 0, inflightDebit: 400));
        await api.WaitForFiguresAsync(source, BalanceFigures.Of(1000, 0));
        Assert.True(DateTime.UtcNow >= expiry.AddMilliseconds(-50), "voided before its expiry");
        await api.WaitForFiguresAsync(queuedSource, BalanceFigures.Of(1000, 0));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(0, 0));

        var voidRow = Assert.Single(await api.ChildrenAsync(holdId));
        Assert.Equal("VOID", voidRow.GetProperty("status").GetString());
        Assert.Equal(400, Big(voidRow, "precise_amount"));
        AssertError(await api.InflightAsync(holdId, new { status = "commit", skip_queue = true }),
            HttpStatusCode.Conflict, "TXN_ALREADY_VOIDED");
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_commit_date_commits_what_remains_at_its_time(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var commitAt = DateTime.UtcNow.AddSeconds(2);
        var hold = await api.HoldAsync(source, destination, 400,
            extra: new { inflight_commit_date = Rfc3339(commitAt) });
        var holdId = hold.Str("transaction_id");
        var partial = await api.InflightAsync(holdId, SyncCommit(100));
        Assert.True(partial.Status == HttpStatusCode.OK, partial.Text);
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 100, inflightDebit: 300));

        await api.WaitForFiguresAsync(source, BalanceFigures.Of(1000, 400));
        Assert.True(DateTime.UtcNow >= commitAt.AddMilliseconds(-50), "committed before its commit date");
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(400, 0));
        var commits = await api.ChildrenAsync(holdId);
        Assert.Equal([100, 300], commits.Select(row => (long)Big(row, "precise_amount")).Order());
        Assert.All(commits, row => Assert.Equal("APPLIED", row.GetProperty("status").GetString()));
        AssertError(await api.InflightAsync(holdId, new { status = "void", skip_queue = true }),
            HttpStatusCode.Conflict, "TXN_ALREADY_COMMITTED",
            "error occurred during processing: [cannot void. Transaction already committed]");
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_hold_resolved_before_its_deadline_stays_as_it_was(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var deadline = Rfc3339(DateTime.UtcNow.AddSeconds(1));
        var expiring = (await api.HoldAsync(source, destination, 100, extra: new { inflight_expiry_date = deadline }))
            .Str("transaction_id");
        var committing = (await api.HoldAsync(source, destination, 200, extra: new { inflight_commit_date = deadline }))
            .Str("transaction_id");
        Assert.Equal(HttpStatusCode.OK, (await api.InflightAsync(expiring, SyncCommit())).Status);
        Assert.Equal(HttpStatusCode.OK, (await api.InflightAsync(committing, SyncVoid)).Status);
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 100));

        await Task.Delay(2000);
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 100));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(100, 0));
        Assert.Single(await api.ChildrenAsync(expiring));
        Assert.Single(await api.ChildrenAsync(committing));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task An_expiry_already_past_voids_the_hold_at_once(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var holdId = (await api.HoldAsync(source, destination, 250,
            extra: new { inflight_expiry_date = "2020-01-01T00:00:00Z" })).Str("transaction_id");

        await api.WaitForFiguresAsync(source, BalanceFigures.Of(1000, 0), TimeSpan.FromSeconds(5));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(0, 0));
        Assert.Equal("VOID", Assert.Single(await api.ChildrenAsync(holdId)).GetProperty("status").GetString());
    }
}
