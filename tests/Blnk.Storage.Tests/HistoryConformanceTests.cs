using System.Data.Common;
using System.Globalization;
using System.Numerics;
using System.Text.Json.Nodes;
using Blnk.Core.Balances;
using Blnk.Core.Ledgers;
using Blnk.Core.Transactions;
using Blnk.TestSupport;

namespace Blnk.Storage.Tests;

// Historical balances, daily snapshots, metadata merges and queue recovery on SQLite and PostgreSQL.
public sealed class HistoryConformanceTests
{
    private static readonly DateTime _t0 = new(2024, 3, 10, 12, 0, 0, DateTimeKind.Utc);

    private static CancellationToken Ct => CancellationToken.None;

    // ---- balances at a time ----

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Balance_at_a_time_sums_applied_rows_by_effective_time(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (a, b) = (await NewBalanceAsync(store), await NewBalanceAsync(store));
        var credit = Row(b, a, 10_000, effective: _t0.AddDays(1));
        var debit = Row(a, b, 3_000, effective: _t0.AddDays(2));
        var noEffectiveDate = Row(b, a, 7, effective: null, created: _t0.AddDays(3));
        await ApplyAsync(store, [credit, debit, noEffectiveDate,
            Row(b, a, 500, TransactionStatus.Queued, _t0.AddDays(1)),
            Row(b, a, 600, TransactionStatus.Rejected, _t0.AddDays(1)),
            Row(b, a, 700, TransactionStatus.Inflight, _t0.AddDays(1))]);

        await AssertAtAsync(store, a, _t0, 0, 0, counted: 0);
        await AssertAtAsync(store, a, _t0.AddDays(1).AddTicks(-10), 0, 0, counted: 0);
        await AssertAtAsync(store, a, _t0.AddDays(1), credit: 10_000, debit: 0, counted: 1);
        await AssertAtAsync(store, a, _t0.AddDays(2).AddTicks(-10), 10_000, 0, counted: 1);
        await AssertAtAsync(store, a, _t0.AddDays(2), 10_000, 3_000, counted: 2);
        await AssertAtAsync(store, a, _t0.AddDays(3), 10_007, 3_000, counted: 3);
        await AssertAtAsync(store, b, _t0.AddDays(4), 3_000, 10_007, counted: 3);
        var at = await store.GetBalanceAtAsync(a, _t0.AddDays(4), fromSource: false, Ct);
        Assert.Equal(new BigInteger(7_007), at!.Balance);
        Assert.Equal("USD", at.Currency);
        Assert.Null(at.SnapshotTime);
        Assert.Null(await store.GetBalanceAtAsync("bln_missing", _t0, fromSource: false, Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Amounts_beyond_64_bits_stay_exact(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (a, b) = (await NewBalanceAsync(store), await NewBalanceAsync(store));
        var huge = BigInteger.Pow(10, 30) + 7;
        await ApplyAsync(store, [Row(b, a, huge, effective: _t0), Row(b, a, huge, effective: _t0)]);
        await store.SnapshotBalancesAsync(null, 10, _t0.AddDays(1), Ct);
        await ApplyAsync(store, [Row(a, b, huge - 1, effective: _t0.AddDays(1).AddHours(1))]);

        await AssertAtAsync(store, a, _t0.AddDays(2), huge * 2, huge - 1, counted: 3);
        var fromZero = await store.GetBalanceAtAsync(a, _t0.AddDays(2), fromSource: true, Ct);
        Assert.Equal(huge + 1, fromZero!.Balance);
    }

    // ---- snapshots ----

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task A_snapshot_copies_the_balance_row_once_per_utc_day(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (a, b) = (await NewBalanceAsync(store), await NewBalanceAsync(store));
        var last = Row(a, b, 250, effective: _t0);
        await ApplyAsync(store, [Row(b, a, 1_000, effective: _t0), last]);
        var day = new DateTime(2024, 3, 11, 23, 59, 59, DateTimeKind.Utc);

        Assert.Equal(new SnapshotBatchResult(2, new[] { a, b }.Max(StringComparer.Ordinal)),
            await store.SnapshotBalancesAsync(null, 10, day, Ct));
        Assert.Equal(new SnapshotBatchResult(0, null),
            await store.SnapshotBalancesAsync(null, 10, day.AddHours(-20), Ct));
        Assert.Equal(2, (await store.SnapshotBalancesAsync(null, 10, day.AddSeconds(1), Ct)).Inserted);

        var snapshots = await store.ListBalanceSnapshotsAsync(a, Ct);
        Assert.Equal(2, snapshots.Count);
        var first = snapshots[0];
        var balance = await store.GetBalanceAsync(a, Ct);
        Assert.Equal(balance!.Amounts.CreditBalance, first.Amounts.CreditBalance);
        Assert.Equal(balance.Amounts.DebitBalance, first.Amounts.DebitBalance);
        Assert.Equal((a, Ledger.GeneralLedgerId, "USD"), (first.BalanceId, first.LedgerId, first.Currency));
        Assert.Equal((day, day, "2024-03-11"), (first.SnapshotTime, first.CreatedAt, first.SnapshotDate));
        Assert.Equal(last.TransactionId, first.LastTransactionId);
        Assert.True(first.LastTransactionSeq > 0);
        Assert.Equal("2024-03-12", snapshots[1].SnapshotDate);
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Snapshot_batches_walk_every_balance_in_id_order(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add(await NewBalanceAsync(store));
        }
        ids.Sort(StringComparer.Ordinal);
        var now = DateTime.UtcNow;

        var results = new List<SnapshotBatchResult>();
        string? after = null;
        do
        {
            results.Add(await store.SnapshotBalancesAsync(after, 2, now, Ct));
            after = results[^1].LastBalanceId;
        }
        while (after is not null);

        Assert.Equal([new(2, ids[1]), new(2, ids[3]), new(1, ids[4]), new(0, null)], results);
        foreach (var id in ids)
        {
            Assert.Single(await store.ListBalanceSnapshotsAsync(id, Ct));
        }
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Reads_start_from_the_latest_snapshot_and_stay_exact(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (a, b) = (await NewBalanceAsync(store), await NewBalanceAsync(store));
        var snapshotTime = _t0.AddDays(5);
        // Applied before the snapshot but effective after it: the snapshot holds it, history must not yet.
        await ApplyAsync(store, [Row(b, a, 1_000, effective: _t0.AddDays(1)),
            Row(b, a, 40, effective: _t0.AddDays(9))]);
        await store.SnapshotBalancesAsync(null, 10, snapshotTime, Ct);
        // Applied after the snapshot but backdated before it: the snapshot lacks it, history must have it.
        await ApplyAsync(store, [Row(a, b, 300, effective: _t0.AddDays(2)),
            Row(b, a, 5, effective: _t0.AddDays(6))]);

        foreach (var fromSource in new[] { false, true })
        {
            async Task<BigInteger> At(int days) =>
                (await store.GetBalanceAtAsync(a, _t0.AddDays(days), fromSource, Ct))!.Balance;
            Assert.Equal(BigInteger.Zero, await At(0));
            Assert.Equal(new BigInteger(700), await At(5));
            Assert.Equal(new BigInteger(705), await At(8));
            Assert.Equal(new BigInteger(745), await At(9));
        }
        var fromSnapshot = await store.GetBalanceAtAsync(a, _t0.AddDays(8), fromSource: false, Ct);
        Assert.Equal(snapshotTime, fromSnapshot!.SnapshotTime);
        Assert.Equal((new BigInteger(1_005), new BigInteger(300)),
            (fromSnapshot.CreditBalance, fromSnapshot.DebitBalance));
        // Before the snapshot's time the snapshot is not used.
        Assert.Null((await store.GetBalanceAtAsync(a, _t0.AddDays(4), fromSource: false, Ct))!.SnapshotTime);
        Assert.Null((await store.GetBalanceAtAsync(a, _t0.AddDays(8), fromSource: true, Ct))!.SnapshotTime);
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Snapshot_values_cannot_be_changed(string dialect)
    {
        var (store, dataSource) = await TestStores.CreateWithDataSourceAsync(dialect);
        await using var _ = store;
        await NewBalanceAsync(store);
        await store.SnapshotBalancesAsync(null, 10, DateTime.UtcNow, Ct);

        await ExecuteRawAsync(dataSource, "UPDATE balance_snapshots SET meta_data = '{\"note\": 1}'");
        var refused = await Assert.ThrowsAnyAsync<DbException>(() =>
            ExecuteRawAsync(dataSource, "UPDATE balance_snapshots SET snapshot_date = '1999-01-01'"));
        Assert.Contains("Only meta_data can be updated", refused.Message, StringComparison.Ordinal);
    }

    // ---- metadata ----

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Metadata_merges_into_ledgers_balances_and_identities(string dialect)
    {
        var (store, dataSource) = await TestStores.CreateWithDataSourceAsync(dialect);
        await using var _ = store;
        var ledger = new Ledger("ldg_" + Guid.NewGuid(), "L", _t0, """{"a": 1, "b": 2}""");
        await store.InsertLedgerAsync(ledger, Ct);
        var balance = await NewBalanceAsync(store);
        var created = dialect == TestStores.Sqlite ? "1700000000000000" : "'2023-11-14T22:13:20Z'";
        await ExecuteRawAsync(dataSource,
            $"INSERT INTO identities (identity_id, created_at) VALUES ('idt_1', {created})");

        var merged = await store.MergeMetaDataAsync(MetadataEntity.Ledger, ledger.LedgerId, AddKeys("b", "c"), Ct);
        Assert.Equal(Json("""{"a": 1, "b": "b", "c": "c"}"""), Json(merged));
        Assert.Equal(Json(merged), Json((await store.GetLedgerAsync(ledger.LedgerId, Ct))!.MetaDataJson));
        Assert.Equal(Json("""{"x": "x"}"""), Json(await store.MergeMetaDataAsync(MetadataEntity.Balance, balance,
            AddKeys("x"), Ct)));
        Assert.Equal(Json("""{"x": "x"}"""), Json((await store.GetBalanceAsync(balance, Ct))!.MetaDataJson));
        await store.MergeMetaDataAsync(MetadataEntity.Identity, "idt_1", AddKeys("tier"), Ct);
        Assert.Equal(Json("""{"tier": "tier"}"""), Json((await store.GetIdentityAsync("idt_1", Ct))!.MetaDataJson));
        foreach (var entity in Enum.GetValues<MetadataEntity>())
        {
            Assert.Null(await store.MergeMetaDataAsync(entity, "missing", AddKeys("k"), Ct));
        }
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Transaction_metadata_reaches_the_row_and_its_children(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (a, b) = (await NewBalanceAsync(store), await NewBalanceAsync(store));
        var parent = Row(b, a, 10, TransactionStatus.Queued, _t0) with { MetaDataJson = """{"keep": true}""" };
        var child = Row(b, a, 10, effective: _t0) with { ParentTransaction = parent.TransactionId };
        var bulkId = "bulk_" + Guid.NewGuid();
        var bulkItems = new[] { Row(b, a, 1, effective: _t0), Row(b, a, 2, effective: _t0) }
            .Select(row => row with { ParentTransaction = bulkId }).ToList();
        var other = Row(b, a, 3, effective: _t0);
        await ApplyAsync(store, [parent, child, .. bulkItems, other]);

        Assert.NotNull(await store.MergeMetaDataAsync(MetadataEntity.Transaction, parent.TransactionId,
            AddKeys("tag"), Ct));
        Assert.NotNull(await store.MergeMetaDataAsync(MetadataEntity.Transaction, bulkId, AddKeys("batch"), Ct));

        Assert.Equal(Json("""{"keep": true, "tag": "tag"}"""), Json(await MetaOfAsync(store, parent)));
        Assert.Equal(Json("""{"tag": "tag"}"""), Json(await MetaOfAsync(store, child)));
        foreach (var row in bulkItems)
        {
            Assert.Equal(Json("""{"batch": "batch"}"""), Json(await MetaOfAsync(store, row)));
        }
        Assert.Null(await MetaOfAsync(store, other));
        Assert.Null(await store.MergeMetaDataAsync(MetadataEntity.Transaction, "bulk_missing", AddKeys("k"), Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Concurrent_metadata_merges_keep_every_key(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (a, b) = (await NewBalanceAsync(store), await NewBalanceAsync(store));
        var row = Row(b, a, 10, effective: _t0);
        await ApplyAsync(store, [row]);

        var keys = Enumerable.Range(0, 24).Select(i => $"k{i}").ToList();
        await Task.WhenAll(keys.SelectMany(key => new[]
        {
            Task.Run(() => store.MergeMetaDataAsync(MetadataEntity.Balance, a, AddKeys(key), Ct)),
            Task.Run(() => store.MergeMetaDataAsync(MetadataEntity.Transaction, row.TransactionId, AddKeys(key), Ct)),
        }));

        var balanceMeta = JsonNode.Parse((await store.GetBalanceAsync(a, Ct))!.MetaDataJson!)!.AsObject();
        var rowMeta = JsonNode.Parse((await MetaOfAsync(store, row))!)!.AsObject();
        Assert.Equal(keys.Order(StringComparer.Ordinal), balanceMeta.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal(keys.Order(StringComparer.Ordinal), rowMeta.Select(p => p.Key).Order(StringComparer.Ordinal));
    }

    // ---- queue recovery ----

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Recovery_releases_only_due_entries_of_old_queued_transactions(string dialect)
    {
        var (store, dataSource) = await TestStores.CreateWithDataSourceAsync(dialect);
        await using var _ = store;
        var (a, b) = (await NewBalanceAsync(store), await NewBalanceAsync(store));
        var now = DateTime.UtcNow;
        var old = Row(b, a, 1, TransactionStatus.Queued, null, now.AddMinutes(-10));
        var young = Row(b, a, 2, TransactionStatus.Queued, null, now.AddSeconds(-30));
        var notYetDue = Row(b, a, 3, TransactionStatus.Scheduled, null, now.AddMinutes(-10));
        await ApplyAsync(store, [old, young, notYetDue]);
        var farFuture = now.AddDays(1);
        await EnqueueLeasedAsync(dataSource, dialect, old.TransactionId, now.AddMinutes(-10), farFuture);
        await EnqueueLeasedAsync(dataSource, dialect, young.TransactionId, now.AddSeconds(-30), farFuture);
        await EnqueueLeasedAsync(dataSource, dialect, notYetDue.TransactionId, now.AddHours(1), farFuture);

        Assert.Equal(1, await store.ReleaseStaleQueueEntriesAsync(now, now.AddMinutes(-2), Ct));

        Assert.Equal(1, await CountAsync(dataSource, dialect,
            "SELECT COUNT(*) FROM transaction_queue WHERE lease_until <= @now", now));
        Assert.Equal(2, await store.ReleaseStaleQueueEntriesAsync(now, now, Ct));
    }

    // ---- helpers ----

    private static async Task<string> NewBalanceAsync(ILedgerStore store)
    {
        var balance = new Balance
        {
            BalanceId = "bln_" + Guid.NewGuid(), LedgerId = Ledger.GeneralLedgerId, Currency = "USD", CreatedAt = _t0,
        };
        Assert.Equal(BalanceInsertOutcome.Inserted, await store.InsertBalanceAsync(balance, Ct));
        return balance.BalanceId;
    }

    private static TransactionRecord Row(string source, string destination, BigInteger amount,
        string status = TransactionStatus.Applied, DateTime? effective = null, DateTime? created = null)
    {
        var reference = "ref_" + Guid.NewGuid();
        return new TransactionRecord
        {
            TransactionId = "txn_" + Guid.NewGuid(), Source = source, Destination = destination, Reference = reference,
            Currency = "USD", Status = status, PreciseAmount = amount, Precision = 100,
            Hash = TransactionHash.Compute(amount.ToString(CultureInfo.InvariantCulture), reference, "USD", source,
                destination),
            CreatedAt = created ?? effective ?? _t0, EffectiveDate = effective,
        };
    }

    /// <summary>Writes the rows as the writer does: APPLIED ones also move their balances, in one batch.</summary>
    private static async Task ApplyAsync(ILedgerStore store, IReadOnlyList<TransactionRecord> rows)
    {
        await using var batch = await store.BeginWriteBatchAsync(Ct);
        var ids = rows.SelectMany(row => new[] { row.Source, row.Destination }).Distinct().ToList();
        var locked = await batch.LockBalancesAsync(ids, Ct);
        var moves = ids.ToDictionary(id => id, _ => (Credit: BigInteger.Zero, Debit: BigInteger.Zero));
        foreach (var row in rows.Where(row => row.Status == TransactionStatus.Applied))
        {
            moves[row.Source] = (moves[row.Source].Credit, moves[row.Source].Debit + row.PreciseAmount);
            moves[row.Destination] = (moves[row.Destination].Credit + row.PreciseAmount, moves[row.Destination].Debit);
        }
        var updated = locked.Values.Select(balance => new Balance
        {
            BalanceId = balance.BalanceId, LedgerId = balance.LedgerId, Currency = balance.Currency,
            CreatedAt = balance.CreatedAt, Version = balance.Version + 1,
            Amounts = new BalanceAmounts(balance.Amounts.CreditBalance + moves[balance.BalanceId].Credit,
                balance.Amounts.DebitBalance + moves[balance.BalanceId].Debit, 0, 0),
        }).ToList();
        await batch.InsertTransactionsAsync(rows, Ct);
        await batch.UpdateBalancesAsync([.. updated.Select(balance => new BalanceWrite(balance, balance.Version - 1))],
            Ct);
        await batch.CommitAsync(Ct);
    }

    private static async Task AssertAtAsync(ILedgerStore store, string balanceId, DateTime at, BigInteger credit,
        BigInteger debit, int counted)
    {
        foreach (var fromSource in new[] { false, true })
        {
            var history = await store.GetBalanceAtAsync(balanceId, at, fromSource, Ct);
            Assert.NotNull(history);
            Assert.Equal((credit, debit, credit - debit),
                (history.CreditBalance, history.DebitBalance, history.Balance));
            if (history.SnapshotTime is null)
            {
                Assert.Equal(counted, history.TransactionsCounted);
            }
        }
    }

    private static Func<string?, string> AddKeys(params string[] keys) => current =>
    {
        var merged = current is null ? [] : JsonNode.Parse(current)!.AsObject();
        foreach (var key in keys)
        {
            merged[key] = key;
        }
        return merged.ToJsonString();
    };

    private static async Task<string?> MetaOfAsync(ILedgerStore store, TransactionRecord row) =>
        (await store.GetTransactionAsync(row.TransactionId, Ct))!.MetaDataJson;

    /// <summary>JSON compared by value, whatever key order or spacing the database keeps.</summary>
    private static string? Json(string? json) => json is null
        ? null
        : new JsonObject(JsonNode.Parse(json)!.AsObject().OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => KeyValuePair.Create(p.Key, p.Value?.DeepClone()))).ToJsonString();

    private static async Task EnqueueLeasedAsync(string dataSource, string dialect, string transactionId,
        DateTime availableAt, DateTime leaseUntil)
    {
        await using var connection = await TestStores.OpenRawConnectionAsync(dataSource);
        await using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO transaction_queue (transaction_id, seq, available_at, lease_until) " +
            "SELECT transaction_id, seq, @available, @lease FROM transactions WHERE transaction_id = @id";
        AddParameter(command, "id", transactionId);
        AddTimeParameter(command, "available", dialect, availableAt);
        AddTimeParameter(command, "lease", dialect, leaseUntil);
        Assert.Equal(1, await command.ExecuteNonQueryAsync(Ct));
    }

    private static async Task<long> CountAsync(string dataSource, string dialect, string sql, DateTime now)
    {
        await using var connection = await TestStores.OpenRawConnectionAsync(dataSource);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        AddTimeParameter(command, "now", dialect, now);
        return Convert.ToInt64(await command.ExecuteScalarAsync(Ct), CultureInfo.InvariantCulture);
    }

    private static async Task ExecuteRawAsync(string dataSource, string sql)
    {
        await using var connection = await TestStores.OpenRawConnectionAsync(dataSource);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(Ct);
    }

    /// <summary>A time as each schema stores it: Unix microseconds on SQLite, timestamptz on PostgreSQL.</summary>
    private static void AddTimeParameter(DbCommand command, string name, string dialect, DateTime time)
    {
        if (dialect == TestStores.Sqlite)
        {
            AddParameter(command, name, (time - DateTime.UnixEpoch).Ticks / 10);
        }
        else
        {
            AddParameter(command, name, DateTime.SpecifyKind(time, DateTimeKind.Utc));
        }
    }

    private static void AddParameter(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }
}
