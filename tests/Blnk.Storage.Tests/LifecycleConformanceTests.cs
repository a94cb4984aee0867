using System.Data.Common;
using System.Globalization;
using System.Numerics;
using Blnk.Core.Transactions;
using Blnk.TestSupport;
using Microsoft.Data.Sqlite;
using SQLitePCL;
using static Blnk.Storage.Tests.LedgerStoreConformanceTests;

namespace Blnk.Storage.Tests;

// Covers the storage the transaction lifecycle needs, on SQLite and PostgreSQL: finding a transaction's
// family, hold progress, durable inflight actions (claim, lease, take once, one pending per origin),
// atomic queue groups and queued sums for groups.
public sealed class LifecycleConformanceTests
{
    private static CancellationToken Ct => CancellationToken.None;

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Family_is_the_row_its_children_and_their_children_filtered_by_status(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);
        var parent = NewTransaction(source, destination, 10, TransactionStatus.Queued);
        var child = NewTransaction(source, destination, 10, TransactionStatus.Inflight) with
        {
            ParentTransaction = parent.TransactionId,
        };
        var grandchild = NewTransaction(source, destination, 4, TransactionStatus.Applied) with
        {
            ParentTransaction = child.TransactionId,
        };
        var stranger = NewTransaction(source, destination, 1, TransactionStatus.Inflight);
        await InsertAsync(store, [parent, child, grandchild, stranger]);

        var inflight = await store.FindFamilyAsync(parent.TransactionId, [TransactionStatus.Inflight], Ct);
        var applied = await store.FindFamilyAsync(parent.TransactionId, [TransactionStatus.Applied], Ct);
        var none = await store.FindFamilyAsync("txn_missing", [TransactionStatus.Inflight], Ct);
        // Every row without a parent has parent_transaction '': an empty id must not name them all.
        var empty = await store.FindFamilyAsync("", [TransactionStatus.Inflight], Ct);

        Assert.Equal([child], inflight);
        Assert.Equal([grandchild], applied);
        Assert.Empty(none);
        Assert.Empty(empty);
    }

    // Several families in one lookup, as the batched reader asks: each must be exactly what the single lookup
    // returns. Rows are inserted newest generation first, so log order is not the order the statement's branches
    // return them in; one requested id is the child of another, so some rows belong to two families.
    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Families_of_several_ids_are_each_the_single_lookups_answer_in_log_order(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);
        var split = NewTransaction(source, destination, 30, TransactionStatus.Queued);
        var queuedLeg = Child(split, 10, TransactionStatus.Queued);
        var voidLeg = Child(split, 20, TransactionStatus.Void);
        var heldOutcome = Child(queuedLeg, 10, TransactionStatus.Inflight);
        var rejectedOutcome = Child(queuedLeg, 10, TransactionStatus.Rejected);
        var outcomeOfVoidLeg = Child(voidLeg, 20, TransactionStatus.Applied);
        var commitOfHeldOutcome = Child(heldOutcome, 4, TransactionStatus.Applied);
        var hold = NewTransaction(source, destination, 5, TransactionStatus.Inflight);
        var stranger = NewTransaction(source, destination, 1, TransactionStatus.Inflight);
        foreach (var row in new[] { commitOfHeldOutcome, outcomeOfVoidLeg, heldOutcome, rejectedOutcome, voidLeg,
                     queuedLeg, split, hold, stranger })
        {
            await InsertAsync(store, [row]);
        }
        string[] statuses = [TransactionStatus.Queued, TransactionStatus.Inflight, TransactionStatus.Applied];
        string[] requested = [split.TransactionId, queuedLeg.TransactionId, hold.TransactionId, "txn_missing", "",
            hold.TransactionId];

        var families = await store.FindFamiliesAsync(requested, statuses, Ct);

        // The split's family: its children of these statuses and the children of all its children (the void leg's
        // outcome too), not the commit of a grandchild. The leg's family reaches that commit as its grandchild.
        Assert.Equal([outcomeOfVoidLeg, heldOutcome, queuedLeg, split], families[split.TransactionId]);
        Assert.Equal([commitOfHeldOutcome, heldOutcome, queuedLeg], families[queuedLeg.TransactionId]);
        Assert.Equal([hold], families[hold.TransactionId]);
        Assert.Empty(families["txn_missing"]);
        Assert.Empty(families[""]);
        Assert.Equal(requested.ToHashSet(), families.Keys.ToHashSet());
        foreach (var transactionId in requested)
        {
            Assert.Equal(await store.FindFamilyAsync(transactionId, statuses, Ct), families[transactionId]);
        }
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Hold_progress_sums_commits_and_notices_a_void(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);
        var hold = NewTransaction(source, destination, BigInteger.Pow(10, 30), TransactionStatus.Inflight);
        var voidedHold = NewTransaction(source, destination, 5, TransactionStatus.Inflight);
        var untouched = NewTransaction(source, destination, 5, TransactionStatus.Inflight);
        await InsertAsync(store, [hold, voidedHold, untouched,
            Child(hold, BigInteger.Pow(10, 29), TransactionStatus.Applied),
            Child(hold, 7, TransactionStatus.Applied),
            Child(voidedHold, 5, TransactionStatus.Void)]);

        var progress = await store.GetHoldProgressAsync(
            [hold.TransactionId, voidedHold.TransactionId, untouched.TransactionId], Ct);

        Assert.Equal(new HoldProgress(BigInteger.Pow(10, 29) + 7, false), progress[hold.TransactionId]);
        Assert.Equal(new HoldProgress(0, true), progress[voidedHold.TransactionId]);
        Assert.Equal(new HoldProgress(0, false), progress[untouched.TransactionId]);
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Inflight_actions_are_leased_when_due_and_taken_once(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);
        var hold = NewTransaction(source, destination, 50, TransactionStatus.Inflight);
        await InsertAsync(store, [hold]);
        var now = Now();
        var expiry = new InflightActionEntry("act_expiry", hold.TransactionId, false, null,
            InflightActionOrigin.Expiry, now.AddSeconds(-1));
        var later = new InflightActionEntry("act_commit", hold.TransactionId, true, BigInteger.Pow(10, 25),
            InflightActionOrigin.ScheduledCommit, now.AddHours(1));
        await using (var batch = await store.BeginWriteBatchAsync(Ct))
        {
            await batch.ScheduleInflightActionsAsync([expiry, later], Ct);
            await batch.CommitAsync(Ct);
        }

        Assert.Equal([expiry], await store.ClaimInflightActionsAsync(10, now, now.AddSeconds(30), Ct));
        Assert.Empty(await store.ClaimInflightActionsAsync(10, now.AddSeconds(1), now.AddSeconds(31), Ct));
        // The expiry's lease ran out unsettled, so it is due again, before the later action.
        Assert.Equal([expiry, later], await store.ClaimInflightActionsAsync(10, now.AddHours(2), now.AddHours(3), Ct));
        await using (var batch = await store.BeginWriteBatchAsync(Ct))
        {
            Assert.Equal(["act_expiry"], await batch.TakeInflightActionsAsync(["act_expiry", "act_unknown"], Ct));
            Assert.Empty(await batch.TakeInflightActionsAsync(["act_expiry"], Ct));
            await batch.CommitAsync(Ct);
        }
        Assert.Equal([later], await store.ClaimInflightActionsAsync(10, now.AddHours(4), now.AddHours(5), Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Only_one_queued_request_per_hold_is_pending(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);
        var first = NewTransaction(source, destination, 50, TransactionStatus.Inflight);
        var second = NewTransaction(source, destination, 50, TransactionStatus.Inflight);
        await InsertAsync(store, [first, second]);
        var now = Now();
        InflightActionEntry Request(string id, string hold) =>
            new(id, hold, true, null, InflightActionOrigin.Request, now);

        Assert.True(await store.TryQueueInflightActionsAsync([Request("act_1", first.TransactionId)], Ct));
        Assert.False(await store.TryQueueInflightActionsAsync(
            [Request("act_2", second.TransactionId), Request("act_3", first.TransactionId)], Ct));

        // All or none: the second hold's action of the refused call was not stored either.
        var pending = await store.ClaimInflightActionsAsync(10, now.AddSeconds(1), now.AddSeconds(30), Ct);
        Assert.Equal(["act_1"], pending.Select(action => action.ActionId));
        Assert.True(await store.TryQueueInflightActionsAsync([Request("act_4", second.TransactionId)], Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task An_atomic_group_is_one_entry_claimed_with_all_its_rows(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);
        var legs = Enumerable.Range(1, 3).Select(i => NewTransaction(source, destination, i, TransactionStatus.Queued)
            with { ParentTransaction = "txn_group_parent" }).ToList();
        var now = Now();
        await InsertAsync(store, legs, [new QueueEntry(legs[0].TransactionId, now, "txn_group_parent")]);

        var queued = await store.GetQueuedAmountsAsync(source, Ct);
        var claimed = await store.ClaimQueuedAsync(10, now, now.AddSeconds(30), Ct);

        Assert.Equal(new QueuedAmounts(6, 0), queued);
        var entry = Assert.Single(claimed);
        Assert.Equal(legs[0].TransactionId, entry.EntryId);
        Assert.Equal(legs, entry.Rows);
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Queued_sums_of_one_balance_do_not_read_the_whole_queue(string dialect)
    {
        var (store, dataSource) = await TestStores.CreateWithDataSourceAsync(dialect);
        await using var _ = store;
        var (source, destination) = await CreateTwoBalancesAsync(store);
        var now = Now();
        // A backlog as a busy ledger has one: on many other balances, plain entries and atomic groups.
        for (var pair = 0; pair < 40; pair++)
        {
            var (busySource, busyDestination) = await CreateTwoBalancesAsync(store);
            var plain = Enumerable.Range(0, 40)
                .Select(_ => NewTransaction(busySource, busyDestination, 1, TransactionStatus.Queued)).ToList();
            var groups = Enumerable.Range(0, 10).Select(group => $"txn_busy_{pair}_{group}").ToList();
            var grouped = groups.SelectMany(group => Enumerable.Range(0, 2).Select(_ =>
                NewTransaction(busySource, busyDestination, 1, TransactionStatus.Queued)
                    with { ParentTransaction = group })).ToList();
            await InsertAsync(store, [.. plain, .. grouped],
            [
                .. plain.Select(row => new QueueEntry(row.TransactionId, now)),
                .. groups.Select((group, index) => new QueueEntry(grouped[2 * index].TransactionId, now, group)),
            ]);
        }
        var legs = Enumerable.Range(1, 3).Select(i => NewTransaction(source, destination, i, TransactionStatus.Queued)
            with { ParentTransaction = "txn_group_parent" }).ToList();
        await InsertAsync(store, legs, [new QueueEntry(legs[0].TransactionId, now, "txn_group_parent")]);
        await using var connection = await TestStores.OpenRawConnectionAsync(dataSource);
        await AnalyzeAsync(connection);

        var plan = await QueryPlanAsync(connection, dialect, SqlLedgerStore.QueuedAmountsSql, source);

        // A backlog on other balances must not make each with_queued read slower: without an index on the
        // group, every such read went through the whole queue.
        Assert.DoesNotContain(plan, step => dialect == TestStores.Sqlite
            ? step.StartsWith("SCAN ", StringComparison.Ordinal)
            : step.Contains("Seq Scan", StringComparison.Ordinal));
        Assert.Equal(new QueuedAmounts(6, 0), await store.GetQueuedAmountsAsync(source, Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Queued_sums_of_one_balance_do_not_read_its_history(string dialect)
    {
        var (store, dataSource) = await TestStores.CreateWithDataSourceAsync(dialect);
        await using var _ = store;
        var (source, destination) = await CreateTwoBalancesAsync(store);
        await InsertHistoryThenOneWaitingAsync(store, source, destination);
        await using var connection = await TestStores.OpenRawConnectionAsync(dataSource);
        await AnalyzeAsync(connection);

        var plan = await QueryPlanAsync(connection, dialect, SqlLedgerStore.QueuedAmountsSql, source);

        // Each side reads the balance's rows from the oldest waiting entry on, by index (seq after the balance;
        // SQLite's rowid): without the bound, every with_queued read went through the balance's whole history.
        Assert.Equal(2, plan.Count(step => dialect == TestStores.Sqlite
            ? step.Contains("USING INDEX transactions_", StringComparison.Ordinal)
                && step.Contains("rowid>?", StringComparison.Ordinal)
            : step.StartsWith("Index Cond: ((", StringComparison.Ordinal)
                && step.Contains("AND (seq >= ", StringComparison.Ordinal)));
        // A queue hashed whole on every read: PostgreSQL chose it from the statistics of this small queue.
        Assert.DoesNotContain(plan, step => step.Contains("hashed SubPlan", StringComparison.Ordinal));
        Assert.Equal(new QueuedAmounts(0, 7), await store.GetQueuedAmountsAsync(source, Ct));
        Assert.Equal(new QueuedAmounts(7, 0), await store.GetQueuedAmountsAsync(destination, Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Queued_sums_pass_over_a_scheduled_entry_older_than_the_history(string dialect)
    {
        var (store, dataSource) = await TestStores.CreateWithDataSourceAsync(dialect);
        await using var _ = store;
        var (source, destination) = await CreateTwoBalancesAsync(store);
        // Scheduled a month ahead, before the balance's whole history: its entry waits all that time.
        var dueAt = Now().AddDays(30);
        var scheduled = NewTransaction(source, destination, 5, TransactionStatus.Scheduled) with
        {
            ScheduledFor = dueAt,
        };
        await InsertAsync(store, [scheduled], [new QueueEntry(scheduled.TransactionId, dueAt)]);
        await InsertHistoryThenOneWaitingAsync(store, source, destination);
        await using var connection = await TestStores.OpenRawConnectionAsync(dataSource);
        await AnalyzeAsync(connection);

        var work = await ReadingWorkAsync(connection, dialect, SqlLedgerStore.QueuedAmountsSql, source);

        // Bounded by the scheduled entry, the read went through all 600 rows of the history (PostgreSQL dropped
        // 605 rows; SQLite took ~8,200 steps), as every with_queued read would for a month.
        Assert.InRange(work, 0, dialect == TestStores.Sqlite ? 600 : 10);
        // Scheduled rows are not counted.
        Assert.Equal(new QueuedAmounts(0, 7), await store.GetQueuedAmountsAsync(source, Ct));
        Assert.Equal(new QueuedAmounts(7, 0), await store.GetQueuedAmountsAsync(destination, Ct));
    }

    /// <summary>
    /// A busy balance's history, both ways: 300 applied transfers and 300 queued ones whose entries are gone (applied
    /// since); then a queued transfer of 7 from <paramref name="destination"/> to <paramref name="source"/>, waiting.
    /// </summary>
    private static async Task InsertHistoryThenOneWaitingAsync(ILedgerStore store, string source, string destination)
    {
        var history = Enumerable.Range(0, 600).Select(i => NewTransaction(i % 2 == 0 ? source : destination,
            i % 2 == 0 ? destination : source, 1, i < 300 ? TransactionStatus.Applied : TransactionStatus.Queued));
        await InsertAsync(store, [.. history]);
        var waiting = NewTransaction(destination, source, 7, TransactionStatus.Queued);
        await InsertAsync(store, [waiting], [new QueueEntry(waiting.TransactionId, Now())]);
    }

    /// <summary>
    /// What reading <paramref name="sql"/> with <c>@id</c> set cost beyond its answer, in a measure that grows with
    /// every row visited: on PostgreSQL the rows its scans read and dropped (<c>EXPLAIN ANALYZE</c>), on SQLite the
    /// steps of its virtual machine.
    /// </summary>
    private static async Task<long> ReadingWorkAsync(DbConnection connection, string dialect, string sql, string id)
    {
        if (dialect == TestStores.Sqlite)
        {
            var handle = ((SqliteConnection)connection).Handle;
            Assert.Equal(raw.SQLITE_OK, raw.sqlite3_prepare_v2(handle, sql, out var statement));
            using (statement)
            {
                raw.sqlite3_bind_text(statement, raw.sqlite3_bind_parameter_index(statement, "@id"), id);
                while (raw.sqlite3_step(statement) == raw.SQLITE_ROW)
                {
                }
                return raw.sqlite3_stmt_status(statement, raw.SQLITE_STMTSTATUS_VM_STEP, 0);
            }
        }
        await using var command = connection.CreateCommand();
        command.CommandText = PostgresExplain("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF)", sql, id);
        long dropped = 0;
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            var step = reader.GetString(0).Trim();
            if (step.StartsWith(RowsRemoved, StringComparison.Ordinal))
            {
                dropped += long.Parse(step[RowsRemoved.Length..], CultureInfo.InvariantCulture);
            }
        }
        return dropped;
    }

    private const string RowsRemoved = "Rows Removed by Filter: ";

    /// <summary>
    /// <paramref name="explain"/> of <paramref name="sql"/> on PostgreSQL, whose EXPLAIN takes no bound parameters: the
    /// id (made by the test, no quotes in it) goes in as a literal.
    /// </summary>
    private static string PostgresExplain(string explain, string sql, string id) =>
        $"{explain} {sql.Replace("@id", $"'{id}'", StringComparison.Ordinal)}";

    /// <summary>Fresh statistics, so that the plan is the one the database makes for this data.</summary>
    private static async Task AnalyzeAsync(DbConnection connection)
    {
        await using var analyze = connection.CreateCommand();
        analyze.CommandText = "ANALYZE";
        await analyze.ExecuteNonQueryAsync(Ct);
    }

    /// <summary>The steps of the plan each database makes for <paramref name="sql"/> with <c>@id</c> set.</summary>
    private static async Task<List<string>> QueryPlanAsync(DbConnection connection, string dialect, string sql,
        string id)
    {
        await using var command = connection.CreateCommand();
        if (dialect == TestStores.Sqlite)
        {
            command.CommandText = "EXPLAIN QUERY PLAN " + sql;
            SqlDialect.Add(command, "id", id);
        }
        else
        {
            command.CommandText = PostgresExplain("EXPLAIN", sql, id);
        }
        var steps = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            steps.Add(reader.GetString(reader.FieldCount - 1).Trim());
        }
        return steps;
    }

    private static TransactionRecord Child(TransactionRecord parent, BigInteger amount, string status) =>
        NewTransaction(parent.Source, parent.Destination, amount, status) with
        {
            ParentTransaction = parent.TransactionId,
        };
}
