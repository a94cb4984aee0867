using System.Net;
using System.Text.Json;
using static Blnk.Server.Tests.Lifecycle;

namespace Blnk.Server.Tests;

// Covers dry_run on create, split, bulk, refund, inflight and bulk inflight: the preview's shape and figures,
// refusals as would_apply false, and that nothing is written (references, balances, @indicators), on both
// storages.
public sealed class DryRunTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private static void AssertPreviewBalance(ApiResponse preview, string balanceId, string role,
        BalanceFigures current, BalanceFigures resulting)
    {
        var balance = PreviewOf(preview, balanceId);
        Assert.Equal(role, balance.GetProperty("role").GetString());
        Assert.Equal("USD", balance.GetProperty("currency").GetString());
        foreach (var name in new[] { "balance", "available", "credit_balance", "debit_balance",
            "inflight_debit_balance", "inflight_credit_balance" })
        {
            Assert.Equal(JsonValueKind.String, balance.GetProperty("current_" + name).ValueKind);
            Assert.Equal(JsonValueKind.String, balance.GetProperty("resulting_" + name).ValueKind);
        }
        var actualCurrent = new BalanceFigures(PreviewFigure(balance, "current_balance"),
            PreviewFigure(balance, "current_credit_balance"), PreviewFigure(balance, "current_debit_balance"),
            PreviewFigure(balance, "current_inflight_debit_balance"),
            PreviewFigure(balance, "current_inflight_credit_balance"),
            current.InflightBalance);
        var actualResulting = new BalanceFigures(PreviewFigure(balance, "resulting_balance"),
            PreviewFigure(balance, "resulting_credit_balance"), PreviewFigure(balance, "resulting_debit_balance"),
            PreviewFigure(balance, "resulting_inflight_debit_balance"),
            PreviewFigure(balance, "resulting_inflight_credit_balance"), resulting.InflightBalance);
        Assert.True(current == actualCurrent, $"{role} current: expected {current}, got {actualCurrent}");
        Assert.True(resulting == actualResulting, $"{role} resulting: expected {resulting}, got {actualResulting}");
        Assert.Equal(current.Balance - current.InflightDebit, PreviewFigure(balance, "current_available"));
        Assert.Equal(resulting.Balance - resulting.InflightDebit, PreviewFigure(balance, "resulting_available"));
    }

    private static void AssertPreview(ApiResponse preview, bool wouldApply)
    {
        Assert.True(preview.Status == HttpStatusCode.OK, preview.Text);
        Assert.True(preview.Body.GetProperty("dry_run").GetBoolean());
        Assert.True(wouldApply == preview.Body.GetProperty("would_apply").GetBoolean(), preview.Text);
        Assert.Equal(!wouldApply, preview.Body.TryGetProperty("rejection", out _));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_create_preview_shows_the_resulting_balances_and_writes_nothing(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        foreach (var skipQueue in new[] { true, false })
        {
            var source = await api.FundedBalanceAsync(1000);
            var destination = await api.CreateBalanceAsync();
            var reference = NewReference("preview");
            var preview = await api.PostAsync("transactions",
                Transaction(source, destination, 250, reference, skipQueue, new { dry_run = true }));
            AssertPreview(preview, wouldApply: true);
            Assert.Equal(skipQueue ? "APPLIED" : "QUEUED", preview.Str("status"));
            Assert.Equal(reference, preview.Str("reference"));
            Assert.Equal("USD", preview.Str("currency"));
            Assert.Equal("250", preview.Str("precise_amount"));
            Assert.Equal(2.5, preview.Body.GetProperty("amount").GetDouble());
            Assert.Equal(100, preview.Money("precision"));
            Assert.Equal(2, preview.Body.GetProperty("balances").GetArrayLength());
            AssertPreviewBalance(preview, source, "source", BalanceFigures.Of(1000, 0), BalanceFigures.Of(1000, 250));
            AssertPreviewBalance(preview, destination, "destination", BalanceFigures.Of(0, 0),
                BalanceFigures.Of(250, 0));

            await api.AssertNoReferenceAsync(reference);
            await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 0));
            await api.AssertFiguresAsync(destination, BalanceFigures.Of(0, 0));
            // The reference was not consumed.
            await api.CreateAsync(Transaction(source, destination, 1, reference, skipQueue));
            await api.WaitForFiguresAsync(source, BalanceFigures.Of(1000, 1));

            // An inflight preview moves the inflight fields only.
            var hold = await api.PostAsync("transactions", Transaction(source, destination, 300,
                NewReference("preview-hold"), skipQueue, new { inflight = true, dry_run = true }));
            AssertPreview(hold, wouldApply: true);
            Assert.Equal(skipQueue ? "INFLIGHT" : "QUEUED", hold.Str("status"));
            AssertPreviewBalance(hold, source, "source", BalanceFigures.Of(1000, 1),
                BalanceFigures.Of(1000, 1, inflightDebit: 300));
            AssertPreviewBalance(hold, destination, "destination", BalanceFigures.Of(1, 0),
                BalanceFigures.Of(1, 0, inflightCredit: 300));
            await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 1));
        }
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Insufficient_funds_previews_as_would_not_apply(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(100);
        var destination = await api.CreateBalanceAsync();
        foreach (var skipQueue in new[] { true, false })
        {
            var reference = NewReference("preview-nsf");
            var preview = await api.PostAsync("transactions",
                Transaction(source, destination, 101, reference, skipQueue, new { dry_run = true }));
            AssertPreview(preview, wouldApply: false);
            var rejection = preview.Body.GetProperty("rejection");
            Assert.Equal("TXN_INSUFFICIENT_FUNDS", rejection.GetProperty("code").GetString());
            Assert.Equal("insufficient_funds", rejection.GetProperty("reason").GetString());
            Assert.Equal("failed to apply transaction to balances: insufficient funds in source balance",
                rejection.GetProperty("message").GetString());
            Assert.False(preview.Body.TryGetProperty("status", out _), preview.Text);
            AssertPreviewBalance(preview, source, "source", BalanceFigures.Of(100, 0), BalanceFigures.Of(100, 0));
            await api.AssertNoReferenceAsync(reference);
        }

        var overdraft = await api.PostAsync("transactions", Transaction(source, destination, 200, NewReference("od"),
            extra: new { dry_run = true, allow_overdraft = true, overdraft_limit = 0.5 }));
        AssertPreview(overdraft, wouldApply: false);
        Assert.Equal("overdraft_limit", overdraft.Body.GetProperty("rejection").GetProperty("reason").GetString());
        Assert.Equal("TXN_INSUFFICIENT_FUNDS", overdraft.Body.GetProperty("rejection").GetProperty("code").GetString());
        await api.AssertFiguresAsync(source, BalanceFigures.Of(100, 0));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task An_unknown_indicator_is_previewed_as_virtual_and_not_created(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var indicator = "@preview-" + Guid.NewGuid().ToString("N");

        var preview = await api.PostAsync("transactions",
            Transaction(source, indicator, 400, NewReference("virtual"), extra: new { dry_run = true }));
        AssertPreview(preview, wouldApply: true);
        var target = preview.Body.GetProperty("balances").EnumerateArray()
            .Single(balance => balance.GetProperty("role").GetString() == "destination");
        Assert.True(target.GetProperty("virtual").GetBoolean());
        Assert.Equal("0", target.GetProperty("current_balance").GetString());
        Assert.Equal("400", target.GetProperty("resulting_balance").GetString());
        Assert.False(PreviewOf(preview, source).TryGetProperty("virtual", out _));
        Assert.NotEmpty(preview.Body.GetProperty("notes").EnumerateArray());

        var lookup = await api.GetAsync($"balances/indicator/{indicator}/currency/USD");
        Assert.True(lookup.Status == HttpStatusCode.NotFound, lookup.Text);
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 0));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_split_preview_lists_its_legs(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var first = await api.CreateBalanceAsync();
        var second = await api.CreateBalanceAsync();
        var reference = NewReference("split-preview");

        var preview = await api.PostAsync("transactions", new
        {
            precise_amount = 100, precision = 100, currency = "USD", reference, description = "split", source,
            destinations = new[]
            {
                new { identifier = first, distribution = "33.33%" },
                new { identifier = second, distribution = "66.67%" },
            },
            skip_queue = true, dry_run = true,
        });
        AssertPreview(preview, wouldApply: true);
        Assert.Equal("100", preview.Str("precise_amount"));
        var legs = preview.Body.GetProperty("legs");
        Assert.Equal(2, legs.GetArrayLength());
        Assert.Equal(first, legs[0].GetProperty("identifier").GetString());
        Assert.Equal("destination", legs[0].GetProperty("role").GetString());
        Assert.Equal("33", legs[0].GetProperty("precise_amount").GetString());
        Assert.Equal(0.33, legs[0].GetProperty("amount").GetDouble());
        Assert.Equal("67", legs[1].GetProperty("precise_amount").GetString());
        AssertPreviewBalance(preview, source, "source", BalanceFigures.Of(1000, 0), BalanceFigures.Of(1000, 100));
        AssertPreviewBalance(preview, second, "destination", BalanceFigures.Of(0, 0), BalanceFigures.Of(67, 0));
        await api.AssertNoReferenceAsync($"{reference}-1");
        await api.AssertFiguresAsync(first, BalanceFigures.Of(0, 0));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_bulk_preview_decides_each_line_and_writes_nothing(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(500);
        var destination = await api.CreateBalanceAsync();
        var references = Enumerable.Range(0, 3).Select(i => NewReference($"bulk-preview{i}")).ToList();
        object Line(int i, long amount) => Transaction(source, destination, amount, references[i], skipQueue: false);

        var fits = await api.PostAsync("transactions/bulk", new
        {
            transactions = new[] { Line(0, 200), Line(1, 300) }, skip_queue = true, atomic = true, dry_run = true,
        });
        Assert.True(fits.Status == HttpStatusCode.OK, fits.Text);
        Assert.True(fits.Body.GetProperty("dry_run").GetBoolean());
        Assert.True(fits.Body.GetProperty("would_apply").GetBoolean());
        Assert.True(fits.Body.GetProperty("cumulative").GetBoolean());
        Assert.True(fits.Body.GetProperty("atomic").GetBoolean());
        var results = fits.Body.GetProperty("results");
        Assert.Equal(2, results.GetArrayLength());
        Assert.Equal(references[0], results[0].GetProperty("reference").GetString());
        Assert.Equal("300", results[1].GetProperty("precise_amount").GetString());

        // Cumulative: the third line does not fit after the first two.
        var overdrawn = await api.PostAsync("transactions/bulk", new
        {
            transactions = new[] { Line(0, 200), Line(1, 300), Line(2, 1) }, skip_queue = true, dry_run = true,
        });
        Assert.True(overdrawn.Status == HttpStatusCode.OK, overdrawn.Text);
        Assert.False(overdrawn.Body.GetProperty("would_apply").GetBoolean());
        var third = overdrawn.Body.GetProperty("results")[2];
        Assert.False(third.GetProperty("would_apply").GetBoolean());
        Assert.Equal("TXN_INSUFFICIENT_FUNDS", third.GetProperty("rejection").GetProperty("code").GetString());

        // run_async does not make a dry run asynchronous: the preview is the answer.
        var asyncPreview = await api.PostAsync("transactions/bulk", new
        {
            transactions = new[] { Line(0, 200) }, run_async = true, dry_run = true,
        });
        Assert.True(asyncPreview.Status == HttpStatusCode.OK, asyncPreview.Text);
        Assert.True(asyncPreview.Body.GetProperty("would_apply").GetBoolean());
        Assert.False(asyncPreview.Body.GetProperty("cumulative").GetBoolean());

        foreach (var reference in references)
        {
            await api.AssertNoReferenceAsync(reference);
        }
        await Task.Delay(300);
        await api.AssertFiguresAsync(source, BalanceFigures.Of(500, 0));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(0, 0));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_refund_preview_writes_nothing_and_the_refund_still_works(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var originalId = (await api.TransferAsync(source, destination, 300)).Str("transaction_id");

        var preview = await api.PostAsync($"refund-transaction/{originalId}",
            new { skip_queue = true, dry_run = true });
        AssertPreview(preview, wouldApply: true);
        Assert.Equal(originalId + "_refund", preview.Str("reference"));
        Assert.Equal("300", preview.Str("precise_amount"));
        AssertPreviewBalance(preview, destination, "source", BalanceFigures.Of(300, 0), BalanceFigures.Of(300, 300));
        AssertPreviewBalance(preview, source, "destination", BalanceFigures.Of(1000, 300),
            BalanceFigures.Of(1300, 300));
        await api.AssertNoReferenceAsync($"{originalId}_refund");
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 300));

        var refund = await api.PostAsync($"refund-transaction/{originalId}", new { skip_queue = true });
        Assert.True(refund.Status == HttpStatusCode.Created, refund.Text);
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1300, 300));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(300, 300));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_queued_refund_preview_shows_the_balances_it_would_move(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var originalId = (await api.TransferAsync(source, destination, 300)).Str("transaction_id");

        // As for a queued create, the preview is decided as if the refund were applied now.
        var preview = await api.PostAsync($"refund-transaction/{originalId}", new { dry_run = true });
        AssertPreview(preview, wouldApply: true);
        Assert.Equal("QUEUED", preview.Str("status"));
        AssertPreviewBalance(preview, destination, "source", BalanceFigures.Of(300, 0), BalanceFigures.Of(300, 300));
        AssertPreviewBalance(preview, source, "destination", BalanceFigures.Of(1000, 300),
            BalanceFigures.Of(1300, 300));
        await api.AssertNoReferenceAsync($"{originalId}_refund");
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Inflight_previews_show_commit_and_void_and_change_nothing(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var holdId = (await api.HoldAsync(source, destination, 600)).Str("transaction_id");
        var committed = await api.InflightAsync(holdId, SyncCommit(100));
        Assert.Equal(HttpStatusCode.OK, committed.Status);
        var before = BalanceFigures.Of(1000, 100, inflightDebit: 500);

        var commit = await api.InflightAsync(holdId, new { status = "commit", amount = 2, dry_run = true });
        AssertPreview(commit, wouldApply: true);
        Assert.Equal("commit", commit.Str("operation"));
        Assert.Equal("APPLIED", commit.Str("status"));
        Assert.Equal("200", commit.Str("precise_amount"));
        AssertPreviewBalance(commit, source, "source", before, BalanceFigures.Of(1000, 300, inflightDebit: 300));
        AssertPreviewBalance(commit, destination, "destination", BalanceFigures.Of(100, 0, inflightCredit: 500),
            BalanceFigures.Of(300, 0, inflightCredit: 300));

        var voiding = await api.InflightAsync(holdId, new { status = "void", dry_run = true });
        AssertPreview(voiding, wouldApply: true);
        Assert.Equal("void", voiding.Str("operation"));
        Assert.Equal("VOID", voiding.Str("status"));
        Assert.Equal("500", voiding.Str("precise_amount"));
        AssertPreviewBalance(voiding, source, "source", before, BalanceFigures.Of(1000, 100));

        var exceeded = await api.InflightAsync(holdId, new { status = "commit", precise_amount = 501, dry_run = true });
        AssertPreview(exceeded, wouldApply: false);
        Assert.Equal("TXN_COMMIT_AMOUNT_EXCEEDED",
            exceeded.Body.GetProperty("rejection").GetProperty("code").GetString());
        Assert.Equal("other", exceeded.Body.GetProperty("rejection").GetProperty("reason").GetString());
        Assert.Contains("Available: USD5.00, Requested: USD5.01",
            exceeded.Body.GetProperty("rejection").GetProperty("message").GetString(), StringComparison.Ordinal);

        var bulk = await api.PostAsync("transactions/inflight/bulk/void",
            new { transaction_ids = new[] { holdId }, dry_run = true });
        Assert.True(bulk.Status == HttpStatusCode.OK, bulk.Text);
        Assert.Equal(1, bulk.Body.GetProperty("succeeded").GetInt32());
        Assert.Equal("succeeded", bulk.Body.GetProperty("results")[0].GetProperty("status").GetString());

        await api.AssertFiguresAsync(source, before);
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(100, 0, inflightCredit: 500));
        Assert.Single(await api.ChildrenAsync(holdId));
        // The hold is still fully actionable.
        var real = await api.InflightAsync(holdId, new { status = "commit", skip_queue = true });
        Assert.Equal(500, real.Money("precise_amount"));
    }
}
