using System.Net;
using System.Text.Json;
using static Blnk.Server.Tests.Lifecycle;

namespace Blnk.Server.Tests;

// Covers POST /transactions/inflight/bulk/commit and /bulk/void: per-item results and codes, the queued and
// synchronous paths, and the request limits, on both storages.
public sealed class InflightBulkTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private static JsonElement Item(ApiResponse response, int index) => response.Body.GetProperty("results")[index];

    private static void AssertItem(ApiResponse response, int index, string transactionId, string status, string? code)
    {
        var item = Item(response, index);
        Assert.True(transactionId == item.GetProperty("transaction_id").GetString(), item.ToString());
        Assert.True(status == item.GetProperty("status").GetString(), item.ToString());
        if (code is null)
        {
            Assert.False(item.TryGetProperty("code", out _), item.ToString());
        }
        else
        {
            Assert.True(code == item.GetProperty("code").GetString(), item.ToString());
        }
    }

    private static void AssertCounts(ApiResponse response, int succeeded, int failed)
    {
        Assert.True(response.Status == HttpStatusCode.OK, response.Text);
        Assert.True(succeeded == response.Body.GetProperty("succeeded").GetInt32(), response.Text);
        Assert.True(failed == response.Body.GetProperty("failed").GetInt32(), response.Text);
        Assert.Equal(succeeded + failed, response.Body.GetProperty("results").GetArrayLength());
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Synchronous_bulk_commit_and_void_report_each_item(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(10_000);
        var destination = await api.CreateBalanceAsync();
        var full = (await api.HoldAsync(source, destination, 1000)).Str("transaction_id");
        var partial = (await api.HoldAsync(source, destination, 2000)).Str("transaction_id");
        var untouched = (await api.HoldAsync(source, destination, 500)).Str("transaction_id");
        var applied = (await api.TransferAsync(source, destination, 100)).Str("transaction_id");
        var unknown = "txn_" + Guid.NewGuid();

        var commit = await api.PostAsync("transactions/inflight/bulk/commit", new
        {
            transactions = new object[]
            {
                new { transaction_id = full },
                new { transaction_id = partial, amount = 7.5 },
                new { transaction_id = unknown },
                new { transaction_id = applied },
                new { transaction_id = untouched, precise_amount = 501 },
            },
            skip_queue = true,
        });
        AssertCounts(commit, 2, 3);
        AssertItem(commit, 0, full, "succeeded", null);
        AssertItem(commit, 1, partial, "succeeded", null);
        AssertItem(commit, 2, unknown, "failed", "NOT_INFLIGHT");
        Assert.Equal("no transaction to commit", Item(commit, 2).GetProperty("message").GetString());
        AssertItem(commit, 3, applied, "failed", "NOT_INFLIGHT");
        AssertItem(commit, 4, untouched, "failed", "INVALID_AMOUNT");
        // held 3,500; committed 1,000 + 750 (+100 applied directly)
        await api.AssertFiguresAsync(source, BalanceFigures.Of(10_000, 1850, inflightDebit: 1750));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(1850, 0, inflightCredit: 1750));

        var again = await api.PostAsync("transactions/inflight/bulk/commit", new
        {
            transactions = new object[]
            {
                new { transaction_id = full }, new { transaction_id = partial, precise_amount = 0 },
            },
            skip_queue = true,
        });
        AssertCounts(again, 0, 2);
        AssertItem(again, 0, full, "failed", "ALREADY_COMMITTED");
        AssertItem(again, 1, partial, "failed", "INVALID_AMOUNT");

        var voiding = await api.PostAsync("transactions/inflight/bulk/void", new
        {
            transaction_ids = new[] { partial, untouched, full, unknown }, skip_queue = true,
        });
        AssertCounts(voiding, 2, 2);
        AssertItem(voiding, 0, partial, "succeeded", null);
        AssertItem(voiding, 1, untouched, "succeeded", null);
        AssertItem(voiding, 2, full, "failed", "ALREADY_COMMITTED");
        AssertItem(voiding, 3, unknown, "failed", "NOT_INFLIGHT");
        await api.AssertFiguresAsync(source, BalanceFigures.Of(10_000, 1850));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(1850, 0));

        var voidAgain = await api.PostAsync("transactions/inflight/bulk/void", new
        {
            transaction_ids = new[] { untouched }, skip_queue = true,
        });
        AssertCounts(voidAgain, 0, 1);
        AssertItem(voidAgain, 0, untouched, "failed", "ALREADY_VOIDED");
        var commitVoided = await api.PostAsync("transactions/inflight/bulk/commit", new
        {
            transactions = new[] { new { transaction_id = untouched } }, skip_queue = true,
        });
        AssertItem(commitVoided, 0, untouched, "failed", "ALREADY_VOIDED");
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Queued_bulk_commit_and_void_are_applied_in_the_background(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(10_000);
        var destination = await api.CreateBalanceAsync();
        var holds = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            holds.Add((await api.HoldAsync(source, destination, 1000)).Str("transaction_id"));
        }

        var commit = await api.PostAsync("transactions/inflight/bulk/commit", new
        {
            transactions = new object[]
            {
                new { transaction_id = holds[0] }, new { transaction_id = holds[1], precise_amount = 250 },
                new { transaction_id = "txn_" + Guid.NewGuid() },
            },
        });
        AssertCounts(commit, 2, 1);
        AssertItem(commit, 0, holds[0], "queued", "QUEUED");
        AssertItem(commit, 1, holds[1], "queued", "QUEUED");
        Assert.Equal("NOT_INFLIGHT", Item(commit, 2).GetProperty("code").GetString());
        await api.WaitForFiguresAsync(source, BalanceFigures.Of(10_000, 1250, inflightDebit: 2750));

        var voiding = await api.PostAsync("transactions/inflight/bulk/void", new
        {
            transaction_ids = new[] { holds[1], holds[2], holds[3], holds[0] },
        });
        AssertCounts(voiding, 3, 1);
        AssertItem(voiding, 0, holds[1], "queued", "QUEUED");
        AssertItem(voiding, 1, holds[2], "queued", "QUEUED");
        AssertItem(voiding, 2, holds[3], "queued", "QUEUED");
        AssertItem(voiding, 3, holds[0], "failed", "ALREADY_COMMITTED");
        await api.WaitForFiguresAsync(source, BalanceFigures.Of(10_000, 1250));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(1250, 0));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Empty_and_oversized_requests_are_refused(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        const string Commit = "transactions/inflight/bulk/commit";
        const string Void = "transactions/inflight/bulk/void";
        AssertError(await api.PostAsync(Commit, new { transactions = Array.Empty<object>() }),
            HttpStatusCode.BadRequest, "TXN_BULK_EMPTY", "transactions cannot be empty");
        AssertError(await api.PostAsync(Commit, new { }),
            HttpStatusCode.BadRequest, "TXN_BULK_EMPTY", "transactions cannot be empty");
        AssertError(await api.PostAsync(Void, new { transaction_ids = Array.Empty<string>() }),
            HttpStatusCode.BadRequest, "TXN_BULK_EMPTY", "transaction_ids cannot be empty");
        var ids = Enumerable.Range(0, 101).Select(_ => "txn_" + Guid.NewGuid()).ToArray();
        AssertError(await api.PostAsync(Commit, new
            {
                transactions = ids.Select(id => new { transaction_id = id }).ToArray(), skip_queue = true,
            }),
            HttpStatusCode.BadRequest, "TXN_BULK_LIMIT_EXCEEDED", "too many transactions; max is 100");
        AssertError(await api.PostAsync(Void, new { transaction_ids = ids, skip_queue = true }),
            HttpStatusCode.BadRequest, "TXN_BULK_LIMIT_EXCEEDED", "too many transaction_ids; max is 100");

        // Exactly 100 is allowed: every unknown id fails on its own.
        var hundred = await api.PostAsync(Void, new { transaction_ids = ids[..100], skip_queue = true });
        AssertCounts(hundred, 0, 100);
        Assert.All(hundred.Body.GetProperty("results").EnumerateArray(),
            item => Assert.Equal("NOT_INFLIGHT", item.GetProperty("code").GetString()));
    }
}
