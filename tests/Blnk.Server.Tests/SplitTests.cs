using System.Net;
using static Blnk.Server.Tests.Lifecycle;

namespace Blnk.Server.Tests;

// Covers split transactions (sources / destinations): exact distributions, leg numbering in request order on
// both paths, the unstored parent answer, distribution errors, and atomic versus independent legs, on both
// storages.
public sealed class SplitTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private static object Leg(string identifier, string distribution) => new { identifier, distribution };

    private static async Task<ApiResponse> LegAsync(Api api, string reference, string expectedStatus)
    {
        var leg = await api.GetAsync($"transactions/reference/{reference}");
        Assert.True(leg.Status == HttpStatusCode.OK, $"{reference}: {leg.Text}");
        Assert.True(expectedStatus == leg.Str("status"), leg.Text);
        return leg;
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Destinations_split_by_percentage_into_exact_numbered_legs(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var first = await api.CreateBalanceAsync();
        var second = await api.CreateBalanceAsync();
        var reference = NewReference("split");

        var response = await api.PostAsync("transactions", new
        {
            precise_amount = 100, precision = 100, currency = "USD", reference, description = "split", source,
            destinations = new[] { Leg(first, "33.33%"), Leg(second, "66.67%") }, skip_queue = true,
        });
        Assert.True(response.Status == HttpStatusCode.Created, response.Text);
        var parentId = response.Str("transaction_id");
        Assert.Equal(reference, response.Str("reference"));
        Assert.Equal(100, response.Money("precise_amount"));
        Assert.Equal("APPLIED", response.Str("status"));
        Assert.Equal(source, response.Str("source"));
        Assert.False(response.Body.TryGetProperty("destination", out var destination)
            && destination.GetString() is { Length: > 0 }, response.Text);
        var echoed = response.Body.GetProperty("destinations");
        Assert.Equal(2, echoed.GetArrayLength());
        Assert.Equal(first, echoed[0].GetProperty("identifier").GetString());
        Assert.Equal("33.33%", echoed[0].GetProperty("distribution").GetString());
        Assert.Equal(second, echoed[1].GetProperty("identifier").GetString());

        var leg1 = await LegAsync(api, reference + "-1", "APPLIED");
        var leg2 = await LegAsync(api, reference + "-2", "APPLIED");
        Assert.Equal(33, leg1.Money("precise_amount"));
        Assert.Equal(67, leg2.Money("precise_amount"));
        Assert.Equal(first, leg1.Str("destination"));
        Assert.Equal(second, leg2.Str("destination"));
        Assert.All(new[] { leg1, leg2 }, leg =>
        {
            Assert.Equal(parentId, leg.Str("parent_transaction"));
            Assert.Equal(source, leg.Str("source"));
        });
        // The parent is not stored: only its legs are.
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetAsync($"transactions/{parentId}")).Status);
        await api.AssertNoReferenceAsync(reference);
        await api.AssertNoReferenceAsync($"{reference}-3");
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 100));
        await api.AssertFiguresAsync(first, BalanceFigures.Of(33, 0));
        await api.AssertFiguresAsync(second, BalanceFigures.Of(67, 0));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Sources_split_by_fixed_precise_and_left_amounts(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var a = await api.FundedBalanceAsync(5000);
        var b = await api.FundedBalanceAsync(5000);
        var c = await api.FundedBalanceAsync(5000);
        var destination = await api.CreateBalanceAsync();
        var reference = NewReference("sources");

        var response = await api.PostAsync("transactions", new
        {
            amount = 30, precision = 100, currency = "USD", reference, description = "sources", destination,
            sources = new object[]
            {
                Leg(a, "10.50"), new { identifier = b, distribution = "", precise_distribution = "1006" },
                Leg(c, "left"),
            },
            skip_queue = true,
        });
        Assert.True(response.Status == HttpStatusCode.Created, response.Text);
        Assert.Equal(3, response.Body.GetProperty("sources").GetArrayLength());
        Assert.Equal(destination, response.Str("destination"));
        Assert.Equal(1050, (await LegAsync(api, reference + "-1", "APPLIED")).Money("precise_amount"));
        Assert.Equal(1006, (await LegAsync(api, reference + "-2", "APPLIED")).Money("precise_amount"));
        Assert.Equal(944, (await LegAsync(api, reference + "-3", "APPLIED")).Money("precise_amount"));
        Assert.Equal(b, (await LegAsync(api, reference + "-2", "APPLIED")).Str("source"));
        await api.AssertFiguresAsync(a, BalanceFigures.Of(5000, 1050));
        await api.AssertFiguresAsync(b, BalanceFigures.Of(5000, 1006));
        await api.AssertFiguresAsync(c, BalanceFigures.Of(5000, 944));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(3000, 0));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Queued_split_legs_are_numbered_with_underscores_and_applied(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var first = await api.CreateBalanceAsync();
        var second = await api.CreateBalanceAsync();
        var third = await api.CreateBalanceAsync();
        var reference = NewReference("qsplit");

        var response = await api.PostAsync("transactions", new
        {
            precise_amount = 1001, precision = 100, currency = "USD", reference, description = "queued split", source,
            destinations = new[] { Leg(first, "left"), Leg(second, "33.33%"), Leg(third, "33.33%") },
            allow_overdraft = true,
        });
        Assert.True(response.Status == HttpStatusCode.Created, response.Text);
        Assert.Equal("QUEUED", response.Str("status"));
        var parentId = response.Str("transaction_id");
        // 33.33% of 1001 = 333.63 → 333 each; "left" gets 1001 − 666.
        long[] expected = [335, 333, 333];
        for (var i = 0; i < 3; i++)
        {
            var queued = await LegAsync(api, $"{reference}_{i + 1}", "QUEUED");
            Assert.Equal(parentId, queued.Str("parent_transaction"));
            Assert.Equal(expected[i], queued.Money("precise_amount"));
            var outcome = await api.OutcomeAsync($"{reference}_{i + 1}", "APPLIED");
            Assert.Equal(queued.Str("transaction_id"), outcome.Str("parent_transaction"));
            Assert.Equal(expected[i], outcome.Money("precise_amount"));
        }
        await api.AssertNoReferenceAsync($"{reference}-1");
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 1001));
        await api.AssertFiguresAsync(first, BalanceFigures.Of(335, 0));
        await api.AssertFiguresAsync(second, BalanceFigures.Of(333, 0));
        await api.AssertFiguresAsync(third, BalanceFigures.Of(333, 0));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Invalid_distributions_are_refused_and_write_nothing(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var first = await api.CreateBalanceAsync();
        var second = await api.CreateBalanceAsync();
        async Task Refused(object[] destinations, string message)
        {
            foreach (var skipQueue in new[] { true, false })
            {
                var reference = NewReference("bad-split");
                var response = await api.PostAsync("transactions", new
                {
                    precise_amount = 100, precision = 100, currency = "USD", reference, description = "bad", source,
                    destinations, skip_queue = skipQueue,
                });
                AssertError(response, HttpStatusCode.BadRequest, "TXN_INVALID_DISTRIBUTION", message);
                await api.AssertNoReferenceAsync($"{reference}-1");
                await api.AssertNoReferenceAsync($"{reference}_1");
            }
        }

        await Refused([Leg(first, "60%"), Leg(second, "50%")], "total distributions exceed 100% or total amount");
        await Refused([Leg(first, "0.60"), Leg(second, "0.50")], "fixed amount exceeds remaining transaction amount");
        await Refused([Leg(first, "left"), Leg(second, "left")], "multiple identifiers with 'left' distribution");
        await Refused([Leg(first, "ten%"), Leg(second, "left")], "invalid percentage format");
        await Refused([Leg(first, "abc"), Leg(second, "left")], "invalid fixed amount format");
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 0));
        await api.AssertFiguresAsync(first, BalanceFigures.Of(0, 0));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task An_atomic_split_with_a_short_source_applies_nothing(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var rich = await api.FundedBalanceAsync(1000);
        var poor = await api.FundedBalanceAsync(10);
        var destination = await api.CreateBalanceAsync();
        var reference = NewReference("atomic");

        var response = await api.PostAsync("transactions", new
        {
            precise_amount = 200, precision = 100, currency = "USD", reference, description = "atomic", destination,
            sources = new[] { Leg(rich, "50%"), Leg(poor, "50%") }, atomic = true, skip_queue = true,
        });
        AssertError(response, HttpStatusCode.BadRequest, "TXN_INSUFFICIENT_FUNDS",
            "failed to apply transaction to balances: insufficient funds in source balance");
        await api.AssertNoReferenceAsync($"{reference}-1");
        await api.AssertNoReferenceAsync($"{reference}-2");
        await api.AssertFiguresAsync(rich, BalanceFigures.Of(1000, 0));
        await api.AssertFiguresAsync(poor, BalanceFigures.Of(10, 0));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(0, 0));

        // Nothing was consumed: the same request succeeds once the poor source has the money.
        await api.FundAsync(poor, 90);
        var retried = await api.PostAsync("transactions", new
        {
            precise_amount = 200, precision = 100, currency = "USD", reference, description = "atomic", destination,
            sources = new[] { Leg(rich, "50%"), Leg(poor, "50%") }, atomic = true, skip_queue = true,
        });
        Assert.True(retried.Status == HttpStatusCode.Created, retried.Text);
        await api.AssertFiguresAsync(rich, BalanceFigures.Of(1000, 100));
        await api.AssertFiguresAsync(poor, BalanceFigures.Of(100, 100));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(200, 0));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_non_atomic_synchronous_split_keeps_the_legs_before_the_failing_one(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var rich = await api.FundedBalanceAsync(1000);
        var poor = await api.FundedBalanceAsync(10);
        var lastRich = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var reference = NewReference("partial");

        var response = await api.PostAsync("transactions", new
        {
            precise_amount = 300, precision = 100, currency = "USD", reference, description = "partial", destination,
            sources = new[] { Leg(rich, "1.00"), Leg(poor, "1.00"), Leg(lastRich, "left") }, skip_queue = true,
        });
        AssertError(response, HttpStatusCode.BadRequest, "TXN_INSUFFICIENT_FUNDS");
        Assert.Equal(100, (await LegAsync(api, reference + "-1", "APPLIED")).Money("precise_amount"));
        await api.AssertNoReferenceAsync($"{reference}-2");
        await api.AssertNoReferenceAsync($"{reference}-3");
        await api.AssertFiguresAsync(rich, BalanceFigures.Of(1000, 100));
        await api.AssertFiguresAsync(poor, BalanceFigures.Of(10, 0));
        await api.AssertFiguresAsync(lastRich, BalanceFigures.Of(1000, 0));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(100, 0));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_queued_atomic_split_with_a_failing_leg_rejects_every_leg(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var rich = await api.FundedBalanceAsync(1000);
        var poor = await api.FundedBalanceAsync(10);
        var destination = await api.CreateBalanceAsync();
        var reference = NewReference("qatomic");

        var response = await api.PostAsync("transactions", new
        {
            precise_amount = 200, precision = 100, currency = "USD", reference, description = "queued atomic",
            destination, sources = new[] { Leg(rich, "50%"), Leg(poor, "50%") }, atomic = true,
        });
        Assert.True(response.Status == HttpStatusCode.Created, response.Text);
        Assert.Equal("QUEUED", response.Str("status"));
        var first = await api.OutcomeAsync(reference + "_1", "REJECTED");
        var second = await api.OutcomeAsync(reference + "_2", "REJECTED");
        Assert.Contains("insufficient funds", second.Body.GetProperty("meta_data").GetProperty("blnk_rejection_reason")
            .GetString(), StringComparison.Ordinal);
        Assert.True(first.Body.GetProperty("meta_data").TryGetProperty("blnk_rejection_reason", out _), first.Text);
        await api.AssertFiguresAsync(rich, BalanceFigures.Of(1000, 0));
        await api.AssertFiguresAsync(poor, BalanceFigures.Of(10, 0));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(0, 0));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_queued_non_atomic_split_decides_each_leg_on_its_own(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var rich = await api.FundedBalanceAsync(1000);
        var poor = await api.FundedBalanceAsync(10);
        var destination = await api.CreateBalanceAsync();
        var reference = NewReference("qindependent");

        var response = await api.PostAsync("transactions", new
        {
            precise_amount = 200, precision = 100, currency = "USD", reference, description = "queued independent",
            destination, sources = new[] { Leg(poor, "50%"), Leg(rich, "50%") },
        });
        Assert.True(response.Status == HttpStatusCode.Created, response.Text);
        await api.OutcomeAsync(reference + "_1", "REJECTED");
        var applied = await api.OutcomeAsync(reference + "_2", "APPLIED");
        Assert.Equal(100, applied.Money("precise_amount"));
        await api.AssertFiguresAsync(rich, BalanceFigures.Of(1000, 100));
        await api.AssertFiguresAsync(poor, BalanceFigures.Of(10, 0));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(100, 0));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_split_refund_by_parent_id_refunds_every_leg(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var first = await api.CreateBalanceAsync();
        var second = await api.CreateBalanceAsync();
        var reference = NewReference("refund-split");
        var response = await api.PostAsync("transactions", new
        {
            precise_amount = 500, precision = 100, currency = "USD", reference, description = "split", source,
            destinations = new[] { Leg(first, "1.50"), Leg(second, "left") }, skip_queue = true,
        });
        Assert.True(response.Status == HttpStatusCode.Created, response.Text);
        var parentId = response.Str("transaction_id");

        var refund = await api.PostAsync($"refund-transaction/{parentId}", new { skip_queue = true });
        Assert.True(refund.Status == HttpStatusCode.Created, refund.Text);
        var leg1 = await LegAsync(api, reference + "-1", "APPLIED");
        Assert.Equal(leg1.Str("transaction_id") + "_refund", refund.Str("reference"));
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1500, 500));
        await api.AssertFiguresAsync(first, BalanceFigures.Of(150, 150));
        await api.AssertFiguresAsync(second, BalanceFigures.Of(350, 350));
        var twice = await api.PostAsync($"refund-transaction/{parentId}", new { skip_queue = true });
        AssertError(twice, HttpStatusCode.Conflict, "GEN_CONFLICT");
    }
}
