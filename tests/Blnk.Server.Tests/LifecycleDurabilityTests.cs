using System.Net;
using System.Diagnostics;
using Blnk.TestSupport;
using Xunit.Abstractions;
using static Blnk.Server.Tests.Lifecycle;

namespace Blnk.Server.Tests;

// Covers lifecycle work that must survive a SIGKILL: hold expiries and scheduled commits, and acknowledged
// queued commits and refunds, each applied exactly once after the restart. Each test owns its server.
public sealed class LifecycleDurabilityTests(ITestOutputHelper output)
{
    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Deadlines_and_acknowledged_queued_actions_survive_a_sigkill(string dialect)
    {
        await using var server = await ServerProcess.StartAsync(await ServerFixture.NewDataSourceAsync(dialect));
        var api = new Api(server.Client);
        var expiringSource = await api.FundedBalanceAsync(1000);
        var committingSource = await api.FundedBalanceAsync(1000);
        var queuedCommitSource = await api.FundedBalanceAsync(1000);
        var refundedSource = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var deadline = Rfc3339(DateTime.UtcNow.AddSeconds(3));
        var expiring = (await api.HoldAsync(expiringSource, destination, 100,
            extra: new { inflight_expiry_date = deadline })).Str("transaction_id");
        var committing = (await api.HoldAsync(committingSource, destination, 200,
            extra: new { inflight_commit_date = deadline })).Str("transaction_id");
        var queuedHold = (await api.HoldAsync(queuedCommitSource, destination, 300)).Str("transaction_id");
        var paid = (await api.TransferAsync(refundedSource, destination, 400)).Str("transaction_id");

        // Acknowledged just before the crash: applied before it or after the restart, but exactly once.
        var commit = await api.InflightAsync(queuedHold, new { status = "commit", precise_amount = 120 });
        Assert.True(commit.Status == HttpStatusCode.OK, commit.Text);
        var refund = await api.PostAsync($"refund-transaction/{paid}", new { });
        Assert.True(refund.Status == HttpStatusCode.Created, refund.Text);
        server.Kill();
        await server.RestartAsync();

        // Work the killed process had leased is taken up again when its lease (30 s) runs out.
        var settle = TimeSpan.FromSeconds(60);
        var restarted = Stopwatch.StartNew();
        await api.WaitForFiguresAsync(expiringSource, BalanceFigures.Of(1000, 0), settle);
        output.WriteLine($"{dialect}: expiry applied {restarted.ElapsedMilliseconds} ms after the restart");
        await api.WaitForFiguresAsync(committingSource, BalanceFigures.Of(1000, 200), settle);
        output.WriteLine($"{dialect}: scheduled commit applied {restarted.ElapsedMilliseconds} ms after the restart");
        await api.WaitForFiguresAsync(queuedCommitSource, BalanceFigures.Of(1000, 120, inflightDebit: 180), settle);
        output.WriteLine($"{dialect}: queued commit applied {restarted.ElapsedMilliseconds} ms after the restart");
        await api.WaitForFiguresAsync(refundedSource, BalanceFigures.Of(1400, 400), settle);
        output.WriteLine($"{dialect}: queued refund applied {restarted.ElapsedMilliseconds} ms after the restart");
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(720, 400, inflightCredit: 180));

        Assert.Equal("VOID", Assert.Single(await api.ChildrenAsync(expiring)).GetProperty("status").GetString());
        Assert.Equal("APPLIED", Assert.Single(await api.ChildrenAsync(committing)).GetProperty("status").GetString());
        Assert.Equal(120, Big(Assert.Single(await api.ChildrenAsync(queuedHold)), "precise_amount"));
        await api.OutcomeAsync(paid + "_refund", "APPLIED");
        // Nothing runs twice once the work has settled.
        await Task.Delay(1000);
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(720, 400, inflightCredit: 180));
    }
}
