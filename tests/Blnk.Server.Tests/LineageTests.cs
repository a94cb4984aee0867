using System.Net;
using static Blnk.Server.Tests.Lifecycle;

namespace Blnk.Server.Tests;

// Covers fund lineage over HTTP on both storages (contract §7): tagged credits from two providers, a debit
// allocated FIFO / LIFO / PROPORTIONAL with the exact numbers of GET /balances/{id}/lineage and
// GET /transactions/{id}/lineage, propagation to a tracked destination, untagged money, inflight holds committed
// (in parts) and voided, the queued path as well as skip_queue, and validation. Every test ends with money
// conserved per currency over all balances, shadows included. Crash safety is in LineageDurabilityTests.
public sealed class LineageTests(LineageFixture fixture) : IClassFixture<LineageFixture>
{
    public static TheoryData<string, string, string, string> Strategies => new()
    {
        // Credits: stripe 10000 (skip_queue), paypal 5000 (queued), 2000 untagged; then a debit of 12000.
        { "sqlite", "FIFO", "stripe:10000 paypal:2000", "stripe:10000:0 paypal:5000:3000" },
        { "postgres", "FIFO", "stripe:10000 paypal:2000", "stripe:10000:0 paypal:5000:3000" },
        { "sqlite", "LIFO", "paypal:5000 stripe:7000", "stripe:10000:3000 paypal:5000:0" },
        { "postgres", "LIFO", "paypal:5000 stripe:7000", "stripe:10000:3000 paypal:5000:0" },
        { "sqlite", "PROPORTIONAL", "stripe:8000 paypal:4000", "stripe:10000:2000 paypal:5000:1000" },
        { "postgres", "PROPORTIONAL", "stripe:8000 paypal:4000", "stripe:10000:2000 paypal:5000:1000" },
    };

    [Theory]
    [MemberData(nameof(Strategies))]
    public async Task A_debit_is_allocated_over_two_providers(string dialect, string strategy, string allocation,
        string providers)
    {
        var client = await fixture.ClientAsync(dialect);
        var identity = await client.IdentityAsync();
        var tracked = await client.TrackedBalanceAsync(identity, strategy);
        var merchant = await client.Api.CreateBalanceAsync();
        var stripe = await client.CreditAsync(tracked, 10_000, "stripe");
        var paypal = await client.CreditAsync(tracked, 5_000, "paypal", skipQueue: false);
        await client.CreditAsync(tracked, 2_000, provider: null);
        await client.DrainAsync();
        var debit = await client.TransferAsync(tracked, merchant, 12_000);
        await client.DrainAsync();

        var balanceLineage = await client.BalanceLineageAsync(tracked);
        Assert.Equal(providers, string.Join(' ', (await client.ProvidersAsync(tracked))
            .Select(line => $"{line.Provider}:{line.Amount}:{line.Available}")));
        foreach (var line in await client.ProvidersAsync(tracked))
        {
            Assert.Equal(line.Amount - line.Available, line.Spent);
        }
        Assert.Equal(3_000, balanceLineage.Money("total_with_lineage"));
        Assert.Equal(tracked, balanceLineage.Str("balance_id"));
        var identifier = LineageClient.Identifier(identity);
        Assert.Equal(await client.IndicatorBalanceIdAsync($"@{identifier}_lineage"),
            balanceLineage.Str("aggregate_balance_id"));
        Assert.Equal(await client.IndicatorBalanceIdAsync($"@stripe_{identifier}_lineage"), balanceLineage.Body
            .GetProperty("providers")[0].GetProperty("shadow_balance_id").GetString());

        var debitLineage = await client.TransactionLineageAsync(debit.Str("transaction_id"));
        Assert.Equal(allocation, LineageClient.Allocation(debitLineage));
        var reference = debit.Str("reference");
        Assert.Equal([.. allocation.Split(' ').Select(share => share.Split(':'))
                .Select(share => $"{reference}_release_{share[0]} APPLIED {share[1]}")],
            LineageClient.Shadows(debitLineage));
        var release = debitLineage.Body.GetProperty("shadow_transactions")[0];
        Assert.Equal($"Release {allocation.Split(':')[0]} funds", release.GetProperty("description").GetString());
        Assert.Equal("release", release.GetProperty("meta_data").GetProperty("_lineage_type").GetString());
        Assert.Equal(strategy, release.GetProperty("meta_data").GetProperty("_allocation").GetString());
        Assert.Equal(tracked, release.GetProperty("meta_data").GetProperty("_main_balance").GetString());
        var stored = await client.Api.GetAsync($"transactions/{debit.Str("transaction_id")}");
        Assert.Equal(allocation,
            LineageClient.Allocation(stored.Body.GetProperty("meta_data").GetProperty("BLNK_FUND_ALLOCATION")));

        await AssertCreditShadowAsync(client, stripe, tracked, identity, "stripe", 10_000, stripe.Str("reference"));
        // A queued credit's lineage follows its applied outcome <reference>_q.
        await AssertCreditShadowAsync(client, paypal, tracked, identity, "paypal", 5_000,
            paypal.Str("reference") + "_q");
        await client.AssertMoneyConservedAsync();
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Lineage_propagates_to_a_tracked_destination(string dialect)
    {
        var client = await fixture.ClientAsync(dialect);
        var (alice, bob) = (await client.IdentityAsync("Alice", "Smith"), await client.IdentityAsync("Bob", "Jones"));
        var aliceWallet = await client.TrackedBalanceAsync(alice, "FIFO");
        var bobWallet = await client.TrackedBalanceAsync(bob, "FIFO");
        var shop = await client.Api.CreateBalanceAsync();
        await client.CreditAsync(aliceWallet, 6_000, "stripe");
        await client.CreditAsync(aliceWallet, 4_000, "paypal");
        await client.DrainAsync();

        // Between two tracked balances the destination's lineage is the source's allocation: the tag is not
        // credited as well (it would count the same money twice).
        var payment = await client.TransferAsync(aliceWallet, bobWallet, 7_000, skipQueue: false, provider: "wise");
        await client.DrainAsync();
        var spend = await client.TransferAsync(bobWallet, shop, 6_500);
        await client.DrainAsync();

        Assert.Equal([new ProviderLine("stripe", 6_000, 0, 6_000), new ProviderLine("paypal", 4_000, 3_000, 1_000)],
            await client.ProvidersAsync(aliceWallet));
        Assert.Equal([new ProviderLine("stripe", 6_000, 0, 6_000), new ProviderLine("paypal", 1_000, 500, 500)],
            await client.ProvidersAsync(bobWallet));
        Assert.Equal(500, (await client.BalanceLineageAsync(bobWallet)).Money("total_with_lineage"));
        var paymentLineage = await client.TransactionLineageAsync(payment.Str("transaction_id"));
        var applied = payment.Str("reference") + "_q";
        Assert.Equal("stripe:6000 paypal:1000", LineageClient.Allocation(paymentLineage));
        Assert.Equal([$"{applied}_release_stripe APPLIED 6000", $"{applied}_receive_stripe APPLIED 6000",
            $"{applied}_release_paypal APPLIED 1000", $"{applied}_receive_paypal APPLIED 1000"],
            LineageClient.Shadows(paymentLineage));
        var receive = paymentLineage.Body.GetProperty("shadow_transactions")[1];
        Assert.Equal("Receive stripe funds", receive.GetProperty("description").GetString());
        Assert.Equal(aliceWallet, receive.GetProperty("meta_data").GetProperty("_from_balance").GetString());
        Assert.Equal(bobWallet, receive.GetProperty("meta_data").GetProperty("_main_balance").GetString());
        var bobIdentifier = LineageClient.Identifier(bob, "Bob", "Jones");
        Assert.Equal(await client.IndicatorBalanceIdAsync($"@stripe_{bobIdentifier}_lineage"),
            receive.GetProperty("source").GetString());
        Assert.Equal("stripe:6000 paypal:500",
            LineageClient.Allocation(await client.TransactionLineageAsync(spend.Str("transaction_id"))));
        await client.AssertMoneyConservedAsync();
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Untagged_money_is_not_attributed(string dialect)
    {
        var client = await fixture.ClientAsync(dialect);
        var tracked = await client.TrackedBalanceAsync(await client.IdentityAsync(), "PROPORTIONAL");
        var other = await client.Api.CreateBalanceAsync();
        await client.CreditAsync(tracked, 5_000, provider: null);
        await client.CreditAsync(tracked, 500, provider: new string('p', 65));
        var untaggedOnly = await client.TransferAsync(tracked, other, 1_000);
        await client.DrainAsync();

        var nothing = await client.TransactionLineageAsync(untaggedOnly.Str("transaction_id"));
        Assert.Equal("-", LineageClient.Allocation(nothing));
        Assert.Empty(LineageClient.Shadows(nothing));
        var empty = await client.BalanceLineageAsync(tracked);
        Assert.Equal(0, empty.Money("total_with_lineage"));
        Assert.Equal("", empty.Str("aggregate_balance_id"));
        Assert.Equal(0, empty.Body.GetProperty("providers").GetArrayLength());

        await client.CreditAsync(tracked, 1_000, new string('s', 64));
        var debit = await client.TransferAsync(tracked, other, 3_000, skipQueue: false);
        await client.DrainAsync();

        // A tag of up to 64 characters is honoured; a longer one is untagged money.
        var longest = new string('s', 64);
        Assert.Equal($"{longest}:1000",
            LineageClient.Allocation(await client.TransactionLineageAsync(debit.Str("transaction_id"))));
        Assert.Equal([new ProviderLine(longest, 1_000, 0, 1_000)], await client.ProvidersAsync(tracked));
        Assert.Equal(2_500, await client.Api.BalanceOfAsync(tracked));
        await client.AssertMoneyConservedAsync();
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Inflight_holds_create_inflight_shadows_that_follow_commits_and_voids(string dialect)
    {
        var client = await fixture.ClientAsync(dialect);
        var identity = await client.IdentityAsync();
        var tracked = await client.TrackedBalanceAsync(identity, "FIFO");
        var merchant = await client.Api.CreateBalanceAsync();
        await client.CreditAsync(tracked, 10_000, "stripe");
        await client.CreditAsync(tracked, 10_000, "paypal");
        var pendingCredit = await client.CreditAsync(tracked, 3_000, "wise", inflight: true);
        await client.DrainAsync();
        var first = await client.TransferAsync(tracked, merchant, 8_000, inflight: true);
        await client.DrainAsync();
        // The first hold's release is held: the second hold cannot be attributed to the same stripe money.
        var second = await client.TransferAsync(tracked, merchant, 4_000, skipQueue: false, inflight: true);
        await client.DrainAsync();
        var secondHold = (await client.Api.OutcomeAsync(second.Str("reference"), "INFLIGHT")).Str("transaction_id");

        var firstId = first.Str("transaction_id");
        var heldLineage = await client.TransactionLineageAsync(firstId);
        Assert.Equal("stripe:8000", LineageClient.Allocation(heldLineage));
        Assert.Equal([$"{first.Str("reference")}_release_stripe INFLIGHT 8000"], LineageClient.Shadows(heldLineage));
        Assert.Equal("stripe:2000 paypal:2000",
            LineageClient.Allocation(await client.TransactionLineageAsync(second.Str("transaction_id"))));
        // Holds move nothing yet: lineage shows settled money only.
        Assert.Equal([new ProviderLine("stripe", 10_000, 10_000, 0), new ProviderLine("paypal", 10_000, 10_000, 0),
            new ProviderLine("wise", 0, 0, 0)], await client.ProvidersAsync(tracked));

        Assert.Equal(HttpStatusCode.OK, (await client.Api.InflightAsync(firstId, SyncCommit(2_000))).Status);
        Assert.Equal(HttpStatusCode.OK, (await client.Api.InflightAsync(firstId, SyncCommit())).Status);
        Assert.Equal(HttpStatusCode.OK, (await client.Api.InflightAsync(secondHold, new { status = "void" })).Status);
        Assert.Equal(HttpStatusCode.OK,
            (await client.Api.InflightAsync(pendingCredit.Str("transaction_id"), SyncCommit(1_000))).Status);
        await client.DrainAsync();

        // A partial commit commits the same fraction of every shadow hold; the rest follows the rest.
        var committed = LineageClient.Shadows(await client.TransactionLineageAsync(firstId));
        Assert.Equal(3, committed.Count);
        Assert.EndsWith(" APPLIED 2000", committed[1], StringComparison.Ordinal);
        Assert.EndsWith(" APPLIED 6000", committed[2], StringComparison.Ordinal);
        var voided = LineageClient.Shadows(await client.TransactionLineageAsync(secondHold));
        Assert.Equal(["INFLIGHT 2000", "INFLIGHT 2000", "VOID 2000", "VOID 2000"],
            voided.Select(line => string.Join(' ', line.Split(' ')[1..])));
        Assert.Equal([new ProviderLine("stripe", 10_000, 2_000, 8_000), new ProviderLine("paypal", 10_000, 10_000, 0),
            new ProviderLine("wise", 1_000, 1_000, 0)], await client.ProvidersAsync(tracked));
        var identifier = LineageClient.Identifier(identity);
        foreach (var indicator in new[] { $"@stripe_{identifier}_lineage", $"@paypal_{identifier}_lineage" })
        {
            await client.Api.AssertFiguresAsync(await client.IndicatorBalanceIdAsync(indicator),
                BalanceFigures.Of(indicator.StartsWith("@stripe", StringComparison.Ordinal) ? 8_000 : 0, 10_000),
                indicator);
        }
        await client.Api.AssertFiguresAsync(await client.IndicatorBalanceIdAsync($"@wise_{identifier}_lineage"),
            BalanceFigures.Of(0, 1_000, inflightDebit: 2_000), "wise");
        await client.AssertMoneyConservedAsync();
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Lineage_requests_are_validated(string dialect)
    {
        var client = await fixture.ClientAsync(dialect);
        var api = client.Api;
        var identity = await client.IdentityAsync();

        AssertError(await api.PostAsync("balances", new { ledger_id = "general_ledger_id", currency = "USD",
                track_fund_lineage = true }), HttpStatusCode.BadRequest, "BAL_VALIDATION_ERROR",
            "identity_id is required when track_fund_lineage is enabled");
        AssertError(await api.PostAsync("balances", new { ledger_id = "general_ledger_id", currency = "USD",
                identity_id = identity, track_fund_lineage = true, allocation_strategy = "RANDOM" }),
            HttpStatusCode.BadRequest, "BAL_VALIDATION_ERROR",
            "allocation_strategy must be one of: FIFO, LIFO, PROPORTIONAL");
        var lifo = await api.PostAsync("balances", new { ledger_id = "general_ledger_id", currency = "USD",
            identity_id = identity, track_fund_lineage = true, allocation_strategy = " lifo " });
        Assert.Equal("LIFO", lifo.Str("allocation_strategy"));

        var untracked = await api.CreateBalanceAsync();
        AssertError(await api.GetAsync($"balances/{untracked}/lineage"), HttpStatusCode.BadRequest, "GEN_BAD_REQUEST",
            $"balance {untracked} does not have fund lineage tracking enabled");
        AssertError(await api.GetAsync("balances/bln_missing/lineage"), HttpStatusCode.NotFound, "BAL_NOT_FOUND",
            "Balance with ID 'bln_missing' not found");
        AssertError(await api.GetAsync("transactions/txn_missing/lineage"), HttpStatusCode.NotFound, "TXN_NOT_FOUND",
            "Transaction with ID 'txn_missing' not found");
        var plain = await client.TransferAsync("@World", untracked, 100);
        var none = await client.TransactionLineageAsync(plain.Str("transaction_id"));
        Assert.Equal("""{"transaction_id":"PLACEHOLDER","shadow_transactions":[]}""".Replace("PLACEHOLDER",
            plain.Str("transaction_id"), StringComparison.Ordinal), none.Text);
    }

    private static async Task AssertCreditShadowAsync(LineageClient client, ApiResponse credit, string tracked,
        string identity, string provider, long amount, string appliedReference)
    {
        var lineage = await client.TransactionLineageAsync(credit.Str("transaction_id"));
        Assert.Equal("-", LineageClient.Allocation(lineage));
        Assert.Equal([$"{appliedReference}_shadow_{provider} APPLIED {amount}"], LineageClient.Shadows(lineage));
        var shadow = lineage.Body.GetProperty("shadow_transactions")[0];
        var identifier = LineageClient.Identifier(identity);
        Assert.Equal(await client.IndicatorBalanceIdAsync($"@{provider}_{identifier}_lineage"),
            shadow.GetProperty("source").GetString());
        Assert.Equal(await client.IndicatorBalanceIdAsync($"@{identifier}_lineage"),
            shadow.GetProperty("destination").GetString());
        Assert.Equal($"Shadow credit from {provider}", shadow.GetProperty("description").GetString());
        Assert.True(shadow.GetProperty("allow_overdraft").GetBoolean());
        var metaData = shadow.GetProperty("meta_data");
        Assert.Equal("credit", metaData.GetProperty("_lineage_type").GetString());
        Assert.Equal(provider, metaData.GetProperty("_provider").GetString());
        Assert.Equal(identity, metaData.GetProperty("_identity_id").GetString());
        Assert.Equal(tracked, metaData.GetProperty("_main_balance").GetString());
    }
}
