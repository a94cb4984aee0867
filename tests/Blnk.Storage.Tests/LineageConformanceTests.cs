using System.Globalization;
using System.Numerics;
using System.Text.Json.Nodes;
using Blnk.Core.Balances;
using Blnk.Core.Ledgers;
using Blnk.Core.Transactions;
using Blnk.TestSupport;
using static Blnk.Storage.Tests.LedgerStoreConformanceTests;

namespace Blnk.Storage.Tests;

// Covers the storage fund lineage needs, on SQLite and PostgreSQL: lineage work claimed in order per identity
// (an earlier unprocessed row of an identity holds back its later rows, also while it backs off), taken once
// by a write batch (not by one that rolls back), failed attempts counted; mappings created once and read oldest
// first; a fund allocation merged into meta_data; shadow transactions found by reference and _shadow_for.
// Not covered here: what the processor writes (the lineage HTTP tests).
public sealed class LineageConformanceTests
{
    private static CancellationToken Ct => CancellationToken.None;

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Lineage_work_is_claimed_in_order_per_identity(string dialect)
    {
        var (store, dataSource) = await TestStores.CreateWithDataSourceAsync(dialect);
        await using var _ = store;
        var (x, y) = (await TrackedBalanceAsync(store, dataSource, "idt_x"), await TrackedBalanceAsync(store,
            dataSource, "idt_y"));
        var rows = Enumerable.Range(0, 4).Select(_ => NewTransaction(x, y, 10)).ToList();
        await InsertAsync(store, rows);
        var now = Now();
        await AppendAsync(store, now,
            new LineageWork(rows[0].TransactionId, LineageType.Debit, x, "idt_x", null, null, null),
            new LineageWork(rows[1].TransactionId, LineageType.Credit, null, null, x, "idt_x", "stripe"),
            new LineageWork(rows[2].TransactionId, LineageType.Credit, null, null, y, "idt_y", "stripe"),
            new LineageWork(rows[3].TransactionId, LineageType.Debit, x, "idt_x", y, "idt_y", null));

        var first = await store.ClaimLineageWorkAsync(10, now, now.AddSeconds(10), Ct);
        var leased = await store.ClaimLineageWorkAsync(10, now, now.AddSeconds(10), Ct);
        await TakeAsync(store, first[0].Seq);
        var second = await store.ClaimLineageWorkAsync(10, now, now.AddSeconds(10), Ct);

        // One row per identity at a time: x's first row and y's first row; the x→y debit waits for both.
        Assert.Equal([rows[0].TransactionId, rows[2].TransactionId], first.Select(work => work.TransactionId));
        Assert.Equal(new PendingLineageWork(first[0].Seq, rows[0].TransactionId, LineageType.Debit, x, null, null, 0),
            first[0]);
        Assert.Equal(new PendingLineageWork(first[1].Seq, rows[2].TransactionId, LineageType.Credit, null, y, "stripe",
            0), first[1]);
        Assert.Empty(leased);
        Assert.Equal([rows[1].TransactionId], second.Select(work => work.TransactionId));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Lineage_work_is_taken_once_and_only_by_a_committed_batch(string dialect)
    {
        var (store, dataSource) = await TestStores.CreateWithDataSourceAsync(dialect);
        await using var _ = store;
        var x = await TrackedBalanceAsync(store, dataSource, "idt_x");
        var (source, __) = await CreateTwoBalancesAsync(store);
        var row = NewTransaction(source, x, 10);
        await InsertAsync(store, [row]);
        var now = Now();
        await AppendAsync(store, now, new LineageWork(row.TransactionId, LineageType.Credit, null, null, x, "idt_x",
            "stripe"));
        var seq = Assert.Single(await store.ClaimLineageWorkAsync(10, now, now, Ct)).Seq;

        await using (var rolledBack = await store.BeginWriteBatchAsync(Ct))
        {
            Assert.Equal([seq], await rolledBack.TakeLineageWorkAsync([seq, seq + 1000], now, Ct));
        }
        await using (var batch = await store.BeginWriteBatchAsync(Ct))
        {
            Assert.Equal([seq], await batch.TakeLineageWorkAsync([seq], now, Ct));
            Assert.Empty(await batch.TakeLineageWorkAsync([seq], now, Ct));
            await batch.CommitAsync(Ct);
        }
        await using (var replay = await store.BeginWriteBatchAsync(Ct))
        {
            Assert.Empty(await replay.TakeLineageWorkAsync([seq], now, Ct));
        }
        Assert.Empty(await store.ClaimLineageWorkAsync(10, now.AddHours(1), now.AddHours(2), Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task A_failed_attempt_is_counted_and_holds_back_its_identity_until_retried(string dialect)
    {
        var (store, dataSource) = await TestStores.CreateWithDataSourceAsync(dialect);
        await using var _ = store;
        var x = await TrackedBalanceAsync(store, dataSource, "idt_x");
        var (source, __) = await CreateTwoBalancesAsync(store);
        var rows = new[] { NewTransaction(source, x, 10), NewTransaction(source, x, 20) };
        await InsertAsync(store, rows);
        var now = Now();
        await AppendAsync(store, now,
            new LineageWork(rows[0].TransactionId, LineageType.Credit, null, null, x, "idt_x", "stripe"),
            new LineageWork(rows[1].TransactionId, LineageType.Credit, null, null, x, "idt_x", "stripe"));
        var failed = Assert.Single(await store.ClaimLineageWorkAsync(10, now, now.AddSeconds(10), Ct));

        await store.RecordLineageAttemptAsync(failed.Seq, "database unreachable", now.AddMinutes(1), Ct);

        Assert.Empty(await store.ClaimLineageWorkAsync(10, now.AddSeconds(30), now.AddSeconds(40), Ct));
        var retried = Assert.Single(await store.ClaimLineageWorkAsync(10, now.AddMinutes(2), now.AddMinutes(3), Ct));
        Assert.Equal(failed with { Attempts = 1 }, retried);
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Mappings_are_created_once_and_read_oldest_first(string dialect)
    {
        var (store, dataSource) = await TestStores.CreateWithDataSourceAsync(dialect);
        await using var _ = store;
        var x = await TrackedBalanceAsync(store, dataSource, "idt_x");
        var (shadow, aggregate) = await CreateTwoBalancesAsync(store);
        var t0 = Now();
        LineageMapping Mapping(string provider, DateTime at) => new(x, provider, shadow, aggregate, "idt_x", at);

        await SettleAsync(store, new LineageSettlement([Mapping("stripe", t0.AddSeconds(5))]));
        await SettleAsync(store, new LineageSettlement([Mapping("paypal", t0), Mapping("stripe", t0.AddSeconds(9))]));

        Assert.Equal([Mapping("paypal", t0), Mapping("stripe", t0.AddSeconds(5))],
            await store.GetLineageMappingsAsync(x, Ct));
        Assert.Empty(await store.GetLineageMappingsAsync(shadow, Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task A_fund_allocation_is_merged_into_meta_data_exactly(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);
        var debit = NewTransaction(source, destination, 10) with { MetaDataJson = """{"order": "o-1"}""" };
        await InsertAsync(store, [debit]);
        var huge = BigInteger.Pow(10, 40) + 1;
        var allocation = $$"""[{"provider":"stripe","amount":{{huge.ToString(CultureInfo.InvariantCulture)}}}]""";

        await SettleAsync(store, new LineageSettlement([], debit.TransactionId, allocation));

        var metaData = JsonNode.Parse((await store.GetTransactionAsync(debit.TransactionId, Ct))!.MetaDataJson!)!;
        var share = Assert.Single(metaData["BLNK_FUND_ALLOCATION"]!.AsArray())!;
        Assert.Equal("o-1", metaData["order"]!.GetValue<string>());
        Assert.Equal("stripe", share["provider"]!.GetValue<string>());
        // PostgreSQL's jsonb orders keys its own way; the number must come back digit for digit.
        Assert.Equal(huge.ToString(CultureInfo.InvariantCulture), share["amount"]!.ToJsonString());
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Shadow_transactions_are_found_by_reference_and_shadow_for(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (a, b) = await CreateTwoBalancesAsync(store);
        var main = NewTransaction(a, b, 10, reference: "r1");
        string ShadowFor(string id) => $$"""{"_shadow_for": "{{id}}", "_provider": "stripe"}""";
        var credit = NewTransaction(a, b, 10, TransactionStatus.Inflight, "r1_shadow_stripe")
            with { MetaDataJson = ShadowFor(main.TransactionId) };
        var release = NewTransaction(b, a, 4, reference: "r1_release_paypal")
            with { MetaDataJson = ShadowFor(main.TransactionId) };
        var commit = NewTransaction(a, b, 10, reference: "r1_shadow_stripe_commit_x")
            with { ParentTransaction = credit.TransactionId, MetaDataJson = ShadowFor(main.TransactionId) };
        var squatter = NewTransaction(a, b, 1, reference: "r1_receive_stripe") with { MetaDataJson = """{"x": 1}""" };
        var unrelated = NewTransaction(a, b, 1, reference: "r2_shadow_stripe")
            with { MetaDataJson = ShadowFor(main.TransactionId) };
        await InsertAsync(store, [main, credit, release, commit, squatter, unrelated]);

        var shadows = await store.FindShadowTransactionsAsync(main.TransactionId,
            ["r1_shadow_stripe", "r1_release_paypal", "r1_receive_stripe", "r1_shadow_wise"], Ct);

        Assert.Equal([credit.TransactionId, release.TransactionId, commit.TransactionId],
            shadows.Select(shadow => shadow.TransactionId));
        Assert.Empty(await store.FindShadowTransactionsAsync(main.TransactionId, [], Ct));
        Assert.Equal([a], (await store.GetBalancesAsync([a, "bln_missing"], Ct)).Keys);
    }

    /// <summary>A tracked balance of a new identity (inserted directly: identities have no endpoint yet).</summary>
    private static async Task<string> TrackedBalanceAsync(ILedgerStore store, string dataSource, string identityId)
    {
        var createdAt = dataSource.StartsWith("sqlite:", StringComparison.Ordinal) ? "0" : "now()";
        await using (var connection = await TestStores.OpenRawConnectionAsync(dataSource))
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "INSERT INTO identities (identity_id, first_name, last_name, created_at) " +
                $"VALUES ('{identityId}', 'Ada', 'Lovelace', {createdAt})";
            await command.ExecuteNonQueryAsync(Ct);
        }
        var balance = new Balance
        {
            BalanceId = $"bln_{Guid.NewGuid()}", LedgerId = Ledger.GeneralLedgerId, Currency = "USD",
            IdentityId = identityId, TrackFundLineage = true, CreatedAt = Now(),
        };
        Assert.Equal(BalanceInsertOutcome.Inserted, await store.InsertBalanceAsync(balance, Ct));
        return balance.BalanceId;
    }

    private static async Task AppendAsync(ILedgerStore store, DateTime now, params LineageWork[] work)
    {
        await using var batch = await store.BeginWriteBatchAsync(Ct);
        await batch.AppendLineageWorkAsync(work, now, Ct);
        await batch.CommitAsync(Ct);
    }

    private static async Task TakeAsync(ILedgerStore store, long seq)
    {
        await using var batch = await store.BeginWriteBatchAsync(Ct);
        Assert.Equal([seq], await batch.TakeLineageWorkAsync([seq], Now(), Ct));
        await batch.CommitAsync(Ct);
    }

    private static async Task SettleAsync(ILedgerStore store, LineageSettlement settlement)
    {
        await using var batch = await store.BeginWriteBatchAsync(Ct);
        await batch.SettleLineageAsync([settlement], Ct);
        await batch.CommitAsync(Ct);
    }
}
