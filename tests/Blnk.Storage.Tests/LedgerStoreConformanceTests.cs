using System.Data.Common;
using System.Globalization;
using System.Numerics;
using Blnk.Core;
using Blnk.Core.Balances;
using Blnk.Core.Identities;
using Blnk.Core.Ledgers;
using Blnk.Core.Transactions;
using Blnk.Storage;
using Blnk.TestSupport;
using Npgsql;

namespace Blnk.Storage.Tests;

// The storage port's conformance suite: every test runs against SQLite and a real PostgreSQL, and both must agree.
public sealed class LedgerStoreConformanceTests
{
    private static readonly BigInteger _beyond64Bits = BigInteger.Pow(10, 30) + 7;

    private static CancellationToken Ct => CancellationToken.None;

    // ---- migrations and the seeded ledger ----

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Migrations_are_idempotent_when_run_again(string dialect)
    {
        var (store, dataSource) = await TestStores.CreateWithDataSourceAsync(dialect);
        await using var _ = store;
        var applied = await CountAsync(dataSource, "SELECT COUNT(*) FROM schema_migrations");

        await store.MigrateAsync(Ct);
        await store.MigrateAsync(Ct);

        Assert.True(applied > 0);
        Assert.Equal(applied, await CountAsync(dataSource, "SELECT COUNT(*) FROM schema_migrations"));
        var ledgers = await store.ListLedgersAsync(100, 0, Ct);
        Assert.Single(ledgers, ledger => ledger.LedgerId == Ledger.GeneralLedgerId);
        Assert.True(await store.PingAsync(Ct));
    }

    /// <summary>
    /// On PostgreSQL the writer's statements check what the foreign keys of transaction rows and queue entries did,
    /// once per set (migrations 0009 and 0010); SQLite keeps its keys, checked in process.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Transaction_rows_and_queue_entries_keep_foreign_keys_on_sqlite_only(string dialect)
    {
        var (store, dataSource) = await TestStores.CreateWithDataSourceAsync(dialect);
        await using var _ = store;
        var keysOf = (string table) => CountAsync(dataSource, dialect == TestStores.Postgres
            ? "SELECT COUNT(*) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid " +
              $"WHERE c.contype = 'f' AND t.relname = '{table}'"
            : $"SELECT COUNT(*) FROM pragma_foreign_key_list('{table}')");

        var expected = dialect == TestStores.Postgres ? (Rows: 0L, Entries: 0L) : (Rows: 2L, Entries: 1L);
        Assert.Equal(expected, (await keysOf("transactions"), await keysOf("transaction_queue")));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Concurrent_migrations_of_one_database_all_succeed_and_apply_each_script_once(string dialect)
    {
        var dataSource = await TestStores.NewDataSourceAsync(dialect);
        var stores = Enumerable.Range(0, 6).Select(_ => LedgerStoreFactory.Create(dataSource)).ToList();
        try
        {
            await Task.WhenAll(stores.Select(store => Task.Run(() => store.MigrateAsync(Ct))));

            var ledgers = await stores[0].ListLedgersAsync(100, 0, Ct);
            Assert.Single(ledgers, ledger => ledger.LedgerId == Ledger.GeneralLedgerId);
        }
        finally
        {
            foreach (var store in stores)
            {
                await store.DisposeAsync();
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task The_general_ledger_is_seeded(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);

        var ledger = await store.GetLedgerAsync(Ledger.GeneralLedgerId, Ct);

        Assert.NotNull(ledger);
        Assert.Equal("General Ledger", ledger.Name);
        Assert.InRange(ledger.CreatedAt, DateTime.UtcNow.AddHours(-1), DateTime.UtcNow.AddMinutes(1));
    }

    // ---- ledgers ----

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Ledger_insert_then_get_returns_the_same_values(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var ledger = new Ledger(NewId("ldg"), "Customer wallets", Now(), """{"team": "payments"}""");

        await store.InsertLedgerAsync(ledger, Ct);

        Assert.Equal(ledger, await store.GetLedgerAsync(ledger.LedgerId, Ct));
        Assert.Null(await store.GetLedgerAsync("ldg_missing", Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Ledger_list_is_newest_first_with_limit_and_offset(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var start = Now().AddDays(1);
        var ledgers = Enumerable.Range(1, 3)
            .Select(i => new Ledger($"ldg_{i}", $"Ledger {i}", start.AddSeconds(i), null)).ToList();
        foreach (var ledger in ledgers)
        {
            await store.InsertLedgerAsync(ledger, Ct);
        }

        var first = await store.ListLedgersAsync(2, 0, Ct);
        var second = await store.ListLedgersAsync(2, 2, Ct);
        var beyond = await store.ListLedgersAsync(2, 4, Ct);

        Assert.Equal(["ldg_3", "ldg_2"], first.Select(ledger => ledger.LedgerId));
        Assert.Equal(["ldg_1", Ledger.GeneralLedgerId], second.Select(ledger => ledger.LedgerId));
        Assert.Empty(beyond);
        Assert.Equal(ledgers[2], first[0]);
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Ledger_rename_changes_the_name_and_reports_a_missing_ledger(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var ledger = new Ledger(NewId("ldg"), "Old name", Now(), null);
        await store.InsertLedgerAsync(ledger, Ct);

        Assert.True(await store.RenameLedgerAsync(ledger.LedgerId, "New name", Ct));
        Assert.False(await store.RenameLedgerAsync("ldg_missing", "Whatever", Ct));

        Assert.Equal(ledger with { Name = "New name" }, await store.GetLedgerAsync(ledger.LedgerId, Ct));
    }

    // ---- balances ----

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Balance_insert_then_get_returns_the_same_values(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var balance = new Balance
        {
            BalanceId = NewId("bln"),
            LedgerId = Ledger.GeneralLedgerId,
            Currency = "NGN",
            Indicator = "@Savings",
            CreatedAt = Now(),
            MetaDataJson = """{"owner": "ada"}""",
            TrackFundLineage = true,
            AllocationStrategy = "LIFO",
        };

        Assert.Equal(BalanceInsertOutcome.Inserted, await store.InsertBalanceAsync(balance, Ct));

        AssertSameBalance(balance, await store.GetBalanceAsync(balance.BalanceId, Ct));
        AssertSameBalance(balance, await store.GetBalanceByIndicatorAsync("@Savings", "NGN", Ct));
        Assert.Null(await store.GetBalanceByIndicatorAsync("@Savings", "USD", Ct));
        Assert.Null(await store.GetBalanceAsync("bln_missing", Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Balance_insert_with_the_same_indicator_and_currency_is_a_duplicate(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);

        Assert.Equal(BalanceInsertOutcome.Inserted, await store.InsertBalanceAsync(NewBalance("@Fees", "USD"), Ct));
        Assert.Equal(BalanceInsertOutcome.DuplicateIndicator,
            await store.InsertBalanceAsync(NewBalance("@Fees", "USD"), Ct));
        Assert.Equal(BalanceInsertOutcome.Inserted, await store.InsertBalanceAsync(NewBalance("@Fees", "EUR"), Ct));
        // Balances without an indicator never collide.
        Assert.Equal(BalanceInsertOutcome.Inserted, await store.InsertBalanceAsync(NewBalance(null, "USD"), Ct));
        Assert.Equal(BalanceInsertOutcome.Inserted, await store.InsertBalanceAsync(NewBalance(null, "USD"), Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Balance_insert_with_a_missing_ledger_or_identity_is_UnknownLedgerOrIdentity(string dialect)
    {
        var (store, dataSource) = await TestStores.CreateWithDataSourceAsync(dialect);
        await using var _ = store;
        var identityCreatedAt = dialect == TestStores.Sqlite ? "0" : "now()";
        await ExecuteRawAsync(dataSource,
            $"INSERT INTO identities (identity_id, created_at) VALUES ('idt_known', {identityCreatedAt})");

        Assert.Equal(BalanceInsertOutcome.UnknownLedgerOrIdentity,
            await store.InsertBalanceAsync(NewBalance(ledgerId: "ldg_missing"), Ct));
        Assert.Equal(BalanceInsertOutcome.UnknownLedgerOrIdentity,
            await store.InsertBalanceAsync(NewBalance(identityId: "idt_missing"), Ct));
        Assert.Equal(BalanceInsertOutcome.Inserted,
            await store.InsertBalanceAsync(NewBalance(identityId: "idt_known"), Ct));
        Assert.Single(await store.ListBalancesAsync(100, 0, Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Balance_list_is_newest_first_with_limit_and_offset(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var start = Now();
        for (var i = 1; i <= 3; i++)
        {
            await store.InsertBalanceAsync(NewBalance(balanceId: $"bln_{i}", createdAt: start.AddSeconds(i)), Ct);
        }

        Assert.Equal(["bln_3", "bln_2"], (await store.ListBalancesAsync(2, 0, Ct)).Select(b => b.BalanceId));
        Assert.Equal(["bln_1"], (await store.ListBalancesAsync(2, 2, Ct)).Select(b => b.BalanceId));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task GetBalances_returns_the_existing_ones_of_many_ids_in_one_call(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        await store.InsertBalanceAsync(NewBalance(balanceId: "bln_a"), Ct);
        await store.InsertBalanceAsync(NewBalance(balanceId: "bln_b"), Ct);

        var found = await store.GetBalancesAsync(["bln_a", "bln_missing", "bln_b"], Ct);

        Assert.Equal(["bln_a", "bln_b"], found.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("bln_b", found["bln_b"].BalanceId);
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task EnsureIndicatorBalance_called_concurrently_creates_exactly_one_balance(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var now = Now();

        var ids = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(() =>
            store.EnsureIndicatorBalanceAsync("@World", "USD", $"bln_world_{i}", now, Ct))));

        var id = Assert.Single(ids.Distinct());
        var balances = await store.ListBalancesAsync(100, 0, Ct);
        var world = Assert.Single(balances);
        Assert.Equal(id, world.BalanceId);
        Assert.Equal("@World", world.Indicator);
        Assert.Equal("USD", world.Currency);
        Assert.Equal(Ledger.GeneralLedgerId, world.LedgerId);
        Assert.Equal(now, world.CreatedAt);
        Assert.Equal(id, await store.EnsureIndicatorBalanceAsync("@World", "USD", "bln_world_late", now, Ct));
        Assert.NotEqual(id, await store.EnsureIndicatorBalanceAsync("@World", "EUR", "bln_world_eur", now, Ct));
    }

    // ---- write batches ----

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Rows_written_in_one_batch_each_keep_their_own_fields(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);
        var full = NewTransaction(source, destination, 7) with
        {
            ParentTransaction = "txn_parent", EffectiveDate = Now().AddDays(-1), ScheduledFor = Now().AddDays(1),
            InflightExpiryDate = Now().AddHours(1), MetaDataJson = """{"invoice": 42}""", AllowOverdraft = true,
        };
        var bare = NewTransaction(destination, source, 3);

        // A statement reused for the next row (SQLite) must not carry the previous row's values into it.
        await InsertAsync(store, [full, bare, full with { TransactionId = "txn_third", Reference = "ref_third" }]);

        Assert.Equal(full, await store.GetTransactionAsync(full.TransactionId, Ct));
        Assert.Equal(bare, await store.GetTransactionAsync(bare.TransactionId, Ct));
        Assert.Equal(full with { TransactionId = "txn_third", Reference = "ref_third" },
            await store.GetTransactionAsync("txn_third", Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Write_batch_changes_become_visible_on_commit(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);
        var row = NewTransaction(source, destination, 2500) with
        {
            Description = "rent", AllowOverdraft = true, OverdraftLimit = 12.5, Inflight = false, SkipQueue = true,
            Atomic = true, ParentTransaction = "txn_parent", EffectiveDate = Now().AddDays(-1),
            MetaDataJson = """{"invoice": 42}""",
        };

        await using (var batch = await store.BeginWriteBatchAsync(Ct))
        {
            var locked = await batch.LockBalancesAsync([source, destination, "bln_missing"], Ct);
            Assert.Equal(new[] { source, destination }.Order(StringComparer.Ordinal),
                locked.Keys.Order(StringComparer.Ordinal));
            Assert.Null(PostingEngine.Apply(locked[source].Amounts, locked[destination].Amounts,
                new Posting(row.PreciseAmount, false, AllowOverdraft: true, 0)));
            locked[source].Version++;
            locked[destination].Version++;
            await batch.InsertTransactionsAsync([row], Ct);
            await batch.UpdateBalancesAsync([.. locked.Values.Select(balance => new BalanceWrite(balance, 0))], Ct);
            await batch.CommitAsync(Ct);
        }

        var sourceAfter = await store.GetBalanceAsync(source, Ct);
        var destinationAfter = await store.GetBalanceAsync(destination, Ct);
        Assert.Equal(new BigInteger(-2500), sourceAfter!.Amounts.Balance);
        Assert.Equal(new BigInteger(2500), sourceAfter.Amounts.DebitBalance);
        Assert.Equal(1, sourceAfter.Version);
        Assert.Equal(new BigInteger(2500), destinationAfter!.Amounts.Balance);
        Assert.Equal(new BigInteger(2500), destinationAfter.Amounts.CreditBalance);
        Assert.Equal(1, destinationAfter.Version);
        Assert.Equal(row, await store.GetTransactionAsync(row.TransactionId, Ct));
        Assert.Equal(row, await store.GetTransactionByReferenceAsync(row.Reference, Ct));
        Assert.Equal(row, Assert.Single(await store.ListTransactionsAsync(10, 0, Ct)));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Write_batch_disposed_without_commit_leaves_nothing_visible(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);
        var row = NewTransaction(source, destination, 100, TransactionStatus.Queued);

        await using (var batch = await store.BeginWriteBatchAsync(Ct))
        {
            var locked = await batch.LockBalancesAsync([source, destination], Ct);
            PostingEngine.Apply(locked[source].Amounts, locked[destination].Amounts, new Posting(100, false, true, 0));
            locked[source].Version++;
            await batch.InsertTransactionsAsync([row], Ct);
            await batch.EnqueueAsync([new QueueEntry(row.TransactionId, Now())], Ct);
            await batch.UpdateBalancesAsync([.. locked.Values.Select(balance => new BalanceWrite(balance, 0))], Ct);
        }

        var sourceAfter = await store.GetBalanceAsync(source, Ct);
        Assert.Equal(BigInteger.Zero, sourceAfter!.Amounts.DebitBalance);
        Assert.Equal(0, sourceAfter.Version);
        Assert.Null(await store.GetTransactionAsync(row.TransactionId, Ct));
        Assert.Empty(await store.ListTransactionsAsync(10, 0, Ct));
        Assert.Empty(await store.ClaimQueuedAsync(10, Now().AddDays(1), Now().AddDays(2), Ct));
        // The store is still usable: the abandoned batch released its locks.
        await InsertAsync(store, [row]);
        Assert.NotNull(await store.GetTransactionAsync(row.TransactionId, Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Updating_a_balance_that_is_not_stored_fails_the_batch_and_commits_nothing(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);
        var row = NewTransaction(source, destination, 100);

        await using (var batch = await store.BeginWriteBatchAsync(Ct))
        {
            var locked = await batch.LockBalancesAsync([source, destination], Ct);
            var missing = new Balance
            {
                BalanceId = "bln_missing", LedgerId = locked[source].LedgerId, Currency = locked[source].Currency,
                CreatedAt = locked[source].CreatedAt, Version = 1,
            };
            locked[source].Version++;
            // On PostgreSQL the update travels with the commit, so the check fails there; on SQLite at once.
            await Assert.ThrowsAsync<StaleBalanceException>(async () =>
            {
                await batch.InsertTransactionsAsync([row], Ct);
                await batch.UpdateBalancesAsync([new BalanceWrite(locked[source], 0), new BalanceWrite(missing, 0)],
                    Ct);
                await batch.CommitAsync(Ct);
            });
        }

        Assert.Null(await store.GetTransactionAsync(row.TransactionId, Ct));
        Assert.Equal(0, (await store.GetBalanceAsync(source, Ct))!.Version);
        // The connection went back to the pool usable: the next batch commits.
        await InsertAsync(store, [row]);
        Assert.NotNull(await store.GetTransactionAsync(row.TransactionId, Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task A_transaction_row_naming_an_unknown_balance_fails_the_batch_and_commits_nothing(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);
        var known = NewTransaction(source, destination, 100);
        var unknown = NewTransaction(source, "bln_missing", 100);

        await using (var batch = await store.BeginWriteBatchAsync(Ct))
        {
            // Refused when sent with the commit by the insert's own check (PostgreSQL, migration 0009), or at once by
            // the foreign key (SQLite).
            var failure = await Assert.ThrowsAnyAsync<DbException>(() => InsertAndCommitAsync(batch, [known, unknown]));
            Assert.Contains(dialect == TestStores.Postgres ? "names an unknown balance" : "foreign key", failure.Message,
                StringComparison.OrdinalIgnoreCase);
        }

        Assert.Null(await store.GetTransactionAsync(known.TransactionId, Ct));
        Assert.Null(await store.GetTransactionAsync(unknown.TransactionId, Ct));
        await InsertAsync(store, [known]);
        Assert.NotNull(await store.GetTransactionAsync(known.TransactionId, Ct));
    }

    /// <summary>
    /// An entry is selected from its row, so one whose row is missing would be left out silently and its accepted
    /// transaction never applied: the whole batch fails instead.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task A_queue_entry_naming_a_transaction_not_stored_fails_the_batch_and_commits_nothing(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);
        var queued = NewTransaction(source, destination, 100, status: TransactionStatus.Queued);

        await using (var batch = await store.BeginWriteBatchAsync(Ct))
        {
            // Refused when sent with the commit by the statement's own count (PostgreSQL), or at once (SQLite).
            var failure = await Assert.ThrowsAnyAsync<Exception>(async () =>
            {
                await batch.InsertTransactionsAsync([queued], Ct);
                await batch.EnqueueAsync(
                    [new QueueEntry(queued.TransactionId, Now()), new QueueEntry("txn_missing", Now())], Ct);
                await batch.CommitAsync(Ct);
            });
            Assert.Contains("a queue entry names a transaction that is not stored", failure.Message,
                StringComparison.Ordinal);
        }

        Assert.Null(await store.GetTransactionAsync(queued.TransactionId, Ct));
        Assert.Empty(await store.ClaimQueuedAsync(10, Now().AddDays(1), Now().AddDays(2), Ct));
        await InsertAsync(store, [queued], [new QueueEntry(queued.TransactionId, Now())]);
        var claimed = Assert.Single(await store.ClaimQueuedAsync(10, Now().AddDays(1), Now().AddDays(2), Ct));
        Assert.Equal(queued.TransactionId, claimed.EntryId);
    }

    /// <summary>
    /// The writer may decide from balances it remembers instead of locking them: the update then applies only if
    /// each row still has the version and identity the batch decided from, else nothing of the batch commits.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task A_balance_update_applies_only_to_rows_still_as_the_batch_read_them(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);
        var remembered = (await store.GetBalanceAsync(source, Ct))!;
        await MoveAsync(store, source, destination, 100);

        var row = NewTransaction(source, destination, 40);
        var decidedFromOld = Debited(remembered, 40);
        await using (var batch = await store.BeginWriteBatchAsync(Ct))
        {
            await Assert.ThrowsAsync<StaleBalanceException>(async () =>
            {
                await batch.InsertTransactionsAsync([row], Ct);
                await batch.UpdateBalancesAsync([new BalanceWrite(decidedFromOld, remembered.Version)], Ct);
                await batch.CommitAsync(Ct);
            });
        }
        Assert.Null(await store.GetTransactionAsync(row.TransactionId, Ct));
        var current = (await store.GetBalanceAsync(source, Ct))!;
        Assert.Equal((1L, new BigInteger(100)), (current.Version, current.Amounts.DebitBalance));

        // Same version, but the balance was linked to an identity after it was read.
        var identity = new Identity { IdentityId = $"idt_{Guid.NewGuid()}", CreatedAt = Now() };
        await store.InsertIdentityAsync(identity, Ct);
        Assert.Equal(BalanceIdentityLinkOutcome.Linked,
            await store.LinkBalanceIdentityAsync(source, identity.IdentityId, Ct));
        await using (var batch = await store.BeginWriteBatchAsync(Ct))
        {
            await Assert.ThrowsAsync<StaleBalanceException>(async () =>
            {
                await batch.UpdateBalancesAsync([new BalanceWrite(Debited(current, 40), current.Version)], Ct);
                await batch.CommitAsync(Ct);
            });
        }
        Assert.Equal(new BigInteger(100), (await store.GetBalanceAsync(source, Ct))!.Amounts.DebitBalance);

        var fresh = (await store.GetBalanceAsync(source, Ct))!;
        await using (var batch = await store.BeginWriteBatchAsync(Ct))
        {
            await batch.InsertTransactionsAsync([row], Ct);
            await batch.UpdateBalancesAsync([new BalanceWrite(Debited(fresh, 40), fresh.Version)], Ct);
            await batch.CommitAsync(Ct);
        }
        var after = (await store.GetBalanceAsync(source, Ct))!;
        Assert.Equal((2L, new BigInteger(140)), (after.Version, after.Amounts.DebitBalance));
        Assert.NotNull(await store.GetTransactionAsync(row.TransactionId, Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task One_read_of_a_batch_returns_locks_references_and_what_it_took(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);
        var stored = NewTransaction(source, destination, 1, reference: "ref_stored");
        var queued = NewTransaction(source, destination, 1, TransactionStatus.Queued);
        await InsertAsync(store, [stored, queued], [new QueueEntry(queued.TransactionId, Now())]);

        await using var batch = await store.BeginWriteBatchAsync(Ct);
        var reads = await batch.ReadAsync(new BatchReadRequest([source, destination, "bln_missing"], [],
            ["ref_stored", "ref_new"], [queued.TransactionId, "txn_missing"], ["act_missing"], [], Now()), Ct);

        Assert.Equal(new[] { source, destination }.Order(StringComparer.Ordinal),
            reads.Balances.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["ref_stored"], reads.ExistingReferences);
        Assert.Equal([queued.TransactionId], reads.TakenQueueEntries);
        Assert.Empty(reads.TakenInflightActions);
        Assert.Empty(reads.TakenLineageWork);
        Assert.Empty(reads.HoldProgress);
        await batch.CommitAsync(Ct);
        Assert.Empty(await store.ClaimQueuedAsync(10, Now().AddDays(1), Now().AddDays(2), Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task A_batch_read_finds_stored_references_whatever_characters_they_hold(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);
        string[] storedReferences =
            ["ref \"quoted\", then \\ and ]", "[\"ref_a\",\"ref_b\"]", "réf ✓ 払い @id'; --"];
        await InsertAsync(store, [.. storedReferences.Select(reference =>
            NewTransaction(source, destination, 1, reference: reference))]);

        await using var batch = await store.BeginWriteBatchAsync(Ct);
        var reads = await batch.ReadAsync(new BatchReadRequest([source], [],
            [.. storedReferences, "ref_a", "ref_b", "ref \"quoted\""], [], [], [], Now()), Ct);

        Assert.Equal(storedReferences.Order(StringComparer.Ordinal),
            reads.ExistingReferences.Order(StringComparer.Ordinal));
        Assert.Equal([source], reads.Balances.Keys);
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task One_read_of_a_batch_finds_its_holds_and_locks_their_balances_with_the_named_ones(string dialect)
    {
        var (store, dataSource) = await TestStores.CreateWithDataSourceAsync(dialect);
        await using var _ = store;
        var (source, destination) = await CreateTwoBalancesAsync(store);
        var (named, unrelated) = await CreateTwoBalancesAsync(store);
        var hold = NewTransaction(source, destination, 40, TransactionStatus.Inflight);
        var commit = NewTransaction(source, destination, 15) with { ParentTransaction = hold.TransactionId };
        await InsertAsync(store, [hold, commit]);

        await using var batch = await store.BeginWriteBatchAsync(Ct);
        var reads = await batch.ReadAsync(new BatchReadRequest([named], [hold.TransactionId, "txn_missing"], [], [], [],
            [], Now()), Ct);

        Assert.Equal(new[] { source, destination, named }.Order(StringComparer.Ordinal),
            reads.Balances.Keys.Order(StringComparer.Ordinal));
        Assert.Equal([hold.TransactionId], reads.Holds.Keys);
        Assert.Equal(40, reads.Holds[hold.TransactionId].PreciseAmount);
        Assert.Equal(new HoldProgress(15, false), reads.HoldProgress[hold.TransactionId]);
        if (dialect == TestStores.Postgres)
        {
            await using var other = await TestStores.OpenRawConnectionAsync(dataSource);
            foreach (var locked in new[] { source, destination, named })
            {
                var exception = await Assert.ThrowsAsync<PostgresException>(() => TryLockAsync(other, locked));
                Assert.Equal(PostgresErrorCodes.LockNotAvailable, exception.SqlState);
            }
            await TryLockAsync(other, unrelated);
        }
        await batch.CommitAsync(Ct);
    }

    /// <summary>Locks a balance row from another session, failing at once if a batch holds it.</summary>
    private static async Task TryLockAsync(DbConnection connection, string balanceId)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT balance_id FROM balances WHERE balance_id = @id FOR UPDATE NOWAIT";
        SqlDialect.Add(command, "id", balanceId);
        await command.ExecuteScalarAsync(Ct);
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Duplicate_reference_inside_a_batch_throws_a_retryable_conflict(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);
        var first = NewTransaction(source, destination, 100, reference: "ref_same");
        var second = NewTransaction(source, destination, 200, reference: "ref_same");

        await using (var batch = await store.BeginWriteBatchAsync(Ct))
        {
            var exception = await Assert.ThrowsAnyAsync<Exception>(() =>
                InsertAndCommitAsync(batch, [first, second]));
            Assert.True(store.IsRetryableConflict(exception), $"not retryable: {exception}");
        }

        Assert.Empty(await store.ListTransactionsAsync(10, 0, Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Reference_committed_by_an_earlier_batch_is_a_retryable_conflict(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);
        await InsertAsync(store, [NewTransaction(source, destination, 100, reference: "ref_taken")]);

        await using var batch = await store.BeginWriteBatchAsync(Ct);
        var exception = await Assert.ThrowsAnyAsync<Exception>(() =>
            InsertAndCommitAsync(batch, [NewTransaction(source, destination, 100, reference: "ref_taken")]));

        Assert.True(store.IsRetryableConflict(exception), $"not retryable: {exception}");
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Duplicate_transaction_id_is_not_a_retryable_conflict(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);
        var row = NewTransaction(source, destination, 100);
        await InsertAsync(store, [row]);

        await using var batch = await store.BeginWriteBatchAsync(Ct);
        var exception = await Assert.ThrowsAnyAsync<DbException>(() =>
            InsertAndCommitAsync(batch, [row with { Reference = NewId("ref") }]));

        Assert.False(store.IsRetryableConflict(exception));
        Assert.False(store.IsRetryableConflict(new InvalidOperationException("not a database error")));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task FindExistingReferences_returns_only_references_already_stored(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);
        await InsertAsync(store, [
            NewTransaction(source, destination, 1, reference: "ref_a"),
            NewTransaction(source, destination, 1, reference: "ref_b"),
        ]);

        await using var batch = await store.BeginWriteBatchAsync(Ct);
        Assert.Equal(["ref_a", "ref_b"],
            (await batch.FindExistingReferencesAsync(["ref_b", "ref_x", "ref_a"], Ct)).Order(StringComparer.Ordinal));
        Assert.Empty(await batch.FindExistingReferencesAsync(["ref_x", "REF_A"], Ct));
        Assert.Empty(await batch.FindExistingReferencesAsync([], Ct));
        // Rows inserted earlier in the same batch count too.
        await batch.InsertTransactionsAsync([NewTransaction(source, destination, 1, reference: "ref_x")], Ct);
        Assert.Equal(["ref_x"], await batch.FindExistingReferencesAsync(["ref_x"], Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Concurrent_batches_on_the_same_balances_do_not_lose_updates(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);

        await Task.WhenAll(Enumerable.Range(1, 10).Select(amount => Task.Run(async () =>
        {
            await using var batch = await store.BeginWriteBatchAsync(Ct);
            var locked = await batch.LockBalancesAsync([source, destination], Ct);
            Assert.Null(PostingEngine.Apply(locked[source].Amounts, locked[destination].Amounts,
                new Posting(amount, false, AllowOverdraft: true, 0)));
            locked[source].Version++;
            locked[destination].Version++;
            await batch.InsertTransactionsAsync([NewTransaction(source, destination, amount)], Ct);
            await batch.UpdateBalancesAsync(
                [.. locked.Values.Select(balance => new BalanceWrite(balance, balance.Version - 1))], Ct);
            await batch.CommitAsync(Ct);
        })));

        var sourceAfter = await store.GetBalanceAsync(source, Ct);
        var destinationAfter = await store.GetBalanceAsync(destination, Ct);
        Assert.Equal(new BigInteger(55), sourceAfter!.Amounts.DebitBalance);
        Assert.Equal(10, sourceAfter.Version);
        Assert.Equal(new BigInteger(55), destinationAfter!.Amounts.CreditBalance);
        Assert.Equal(10, destinationAfter.Version);
        Assert.Equal(10, (await store.ListTransactionsAsync(100, 0, Ct)).Count);
    }

    // ---- the queue ----

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task ClaimQueued_returns_due_entries_in_enqueue_order_and_honours_available_at_and_the_lease(
        string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);
        var now = Now();
        var first = NewTransaction(source, destination, 1, TransactionStatus.Queued);
        var later = NewTransaction(source, destination, 2, TransactionStatus.Scheduled) with
        {
            ScheduledFor = now.AddHours(1),
        };
        var third = NewTransaction(source, destination, 3, TransactionStatus.Queued);
        await InsertAsync(store, [first, later, third], [
            new QueueEntry(first.TransactionId, now.AddSeconds(-2)),
            new QueueEntry(later.TransactionId, now.AddHours(1)),
            new QueueEntry(third.TransactionId, now.AddSeconds(-1)),
        ]);

        var claimed = await store.ClaimQueuedAsync(10, now, now.AddSeconds(30), Ct);
        Assert.Equal([first, third], RowsOf(claimed));

        Assert.Empty(await store.ClaimQueuedAsync(10, now.AddSeconds(1), now.AddSeconds(31), Ct));
        Assert.Empty(await store.ClaimQueuedAsync(10, now.AddSeconds(29), now.AddSeconds(59), Ct));

        // The lease expired: the same entries are due again, still in enqueue order.
        var reclaimed = await store.ClaimQueuedAsync(10, now.AddSeconds(30), now.AddSeconds(60), Ct);
        Assert.Equal([first.TransactionId, third.TransactionId], RowsOf(reclaimed).Select(row => row.TransactionId));

        var all = await store.ClaimQueuedAsync(10, now.AddHours(2), now.AddHours(3), Ct);
        Assert.Equal([first, later, third], RowsOf(all));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task A_lease_whose_process_is_gone_is_free_at_once_while_a_live_process_keeps_its_own(
        string dialect)
    {
        var (crashed, dataSource) = await TestStores.CreateWithDataSourceAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(crashed);
        var now = Now();
        var queued = NewTransaction(source, destination, 1, TransactionStatus.Queued);
        await InsertAsync(crashed, [queued], [new QueueEntry(queued.TransactionId, now.AddSeconds(-1))]);
        Assert.Equal([queued], RowsOf(await crashed.ClaimQueuedAsync(10, now, now.AddSeconds(30), Ct)));

        // Another process, the crashed one still alive: on PostgreSQL its lease holds; one SQLite file belongs to
        // one process, so a second store on it is the restarted server and every other owner is gone.
        await using var restarted = LedgerStoreFactory.Create(dataSource);
        var whileAlive = await restarted.ClaimQueuedAsync(10, now.AddSeconds(1), now.AddSeconds(31), Ct);
        Assert.Equal(dialect == TestStores.Postgres ? [] : [queued], RowsOf(whileAlive));

        // Gone (on PostgreSQL its session ends with it): the entry is due again long before its lease runs out,
        // and the restarted process's own lease then holds against itself.
        await crashed.DisposeAsync();
        var resumed = await restarted.ClaimQueuedAsync(10, now.AddSeconds(2), now.AddSeconds(32), Ct);
        Assert.Equal(dialect == TestStores.Postgres ? [queued] : [], RowsOf(resumed));
        Assert.Empty(await restarted.ClaimQueuedAsync(10, now.AddSeconds(3), now.AddSeconds(33), Ct));
        Assert.Single(await restarted.ClaimQueuedAsync(10, now.AddSeconds(32), now.AddSeconds(62), Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task An_entry_stored_leased_is_its_owners_until_the_lease_runs_out_or_the_owner_is_gone(
        string dialect)
    {
        var (owner, dataSource) = await TestStores.CreateWithDataSourceAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(owner);
        var now = Now();
        var queued = NewTransaction(source, destination, 1, TransactionStatus.Queued);
        await InsertAsync(owner, [queued],
            [new QueueEntry(queued.TransactionId, now.AddSeconds(-1), LeasedUntil: now.AddSeconds(30))]);

        // The process that stored it applies it itself: its own claims leave it alone for the lease.
        Assert.Empty(await owner.ClaimQueuedAsync(10, now, now.AddSeconds(30), Ct));
        Assert.Empty(await owner.ClaimQueuedAsync(10, now.AddSeconds(29), now.AddSeconds(59), Ct));
        await using var other = LedgerStoreFactory.Create(dataSource);
        if (dialect == TestStores.Postgres)
        {
            Assert.Empty(await other.ClaimQueuedAsync(10, now.AddSeconds(1), now.AddSeconds(31), Ct));
        }

        // Gone (a SQLite file's second store is the restarted server): the entry is due at once.
        await owner.DisposeAsync();
        Assert.Equal([queued], RowsOf(await other.ClaimQueuedAsync(10, now.AddSeconds(2), now.AddSeconds(32), Ct)));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task ClaimQueued_returns_at_most_max_entries_oldest_first(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);
        var now = Now();
        var rows = Enumerable.Range(1, 5)
            .Select(i => NewTransaction(source, destination, i, TransactionStatus.Queued)).ToList();
        await InsertAsync(store, rows, [.. rows.Select(row => new QueueEntry(row.TransactionId, now))]);

        var firstTwo = await store.ClaimQueuedAsync(2, now, now.AddMinutes(1), Ct);
        var nextTwo = await store.ClaimQueuedAsync(2, now, now.AddMinutes(1), Ct);
        var last = await store.ClaimQueuedAsync(2, now, now.AddMinutes(1), Ct);

        Assert.Equal(rows[..2], RowsOf(firstTwo));
        Assert.Equal(rows[2..4], RowsOf(nextTwo));
        Assert.Equal(rows[4..], RowsOf(last));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task TakeQueueEntries_returns_each_id_only_once(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);
        var now = Now();
        var one = NewTransaction(source, destination, 1, TransactionStatus.Queued);
        var two = NewTransaction(source, destination, 2, TransactionStatus.Queued);
        var three = NewTransaction(source, destination, 3, TransactionStatus.Queued);
        await InsertAsync(store, [one, two, three], [
            new QueueEntry(one.TransactionId, now), new QueueEntry(two.TransactionId, now),
            new QueueEntry(three.TransactionId, now),
        ]);

        // Taken but not committed: the entry stays queued.
        await using (var abandoned = await store.BeginWriteBatchAsync(Ct))
        {
            Assert.Equal([three.TransactionId], await abandoned.TakeQueueEntriesAsync([three.TransactionId], Ct));
        }
        await using (var batch = await store.BeginWriteBatchAsync(Ct))
        {
            var taken = await batch.TakeQueueEntriesAsync([one.TransactionId, two.TransactionId, "txn_missing"], Ct);
            Assert.Equal(new[] { one.TransactionId, two.TransactionId }.Order(StringComparer.Ordinal),
                taken.Order(StringComparer.Ordinal));
            Assert.Empty(await batch.TakeQueueEntriesAsync([one.TransactionId], Ct));
            await batch.CommitAsync(Ct);
        }
        await using (var again = await store.BeginWriteBatchAsync(Ct))
        {
            Assert.Empty(await again.TakeQueueEntriesAsync([one.TransactionId, two.TransactionId], Ct));
            Assert.Empty(await again.TakeQueueEntriesAsync([], Ct));
            await again.CommitAsync(Ct);
        }

        var remaining = await store.ClaimQueuedAsync(10, now, now.AddMinutes(1), Ct);
        Assert.Equal([three], RowsOf(remaining));
        // Taking removes only the queue entry; the transaction row stays.
        Assert.Equal(one, await store.GetTransactionAsync(one.TransactionId, Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task TakeQueueEntries_in_overlapping_batches_hands_an_id_to_one_batch_only(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);
        var row = NewTransaction(source, destination, 1, TransactionStatus.Queued);
        await InsertAsync(store, [row], [new QueueEntry(row.TransactionId, Now())]);

        var first = await store.BeginWriteBatchAsync(Ct);
        HashSet<string> secondTook;
        try
        {
            Assert.Equal([row.TransactionId], await first.TakeQueueEntriesAsync([row.TransactionId], Ct));
            // The second batch must wait for the first (row lock or SQLite's write lock), then find nothing.
            var second = Task.Run(async () =>
            {
                await using var batch = await store.BeginWriteBatchAsync(Ct);
                var taken = await batch.TakeQueueEntriesAsync([row.TransactionId], Ct);
                await batch.CommitAsync(Ct);
                return taken;
            });
            await Task.Delay(300);
            Assert.False(second.IsCompleted, "the second batch did not wait for the first");
            await first.CommitAsync(Ct);
            secondTook = await second;
        }
        finally
        {
            await first.DisposeAsync();
        }

        Assert.Empty(secondTook);
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task GetQueuedAmounts_sums_debits_and_credits_of_QUEUED_rows_still_in_the_queue(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (x, y) = await CreateTwoBalancesAsync(store);
        var z = NewBalance().BalanceId;
        Assert.Equal(BalanceInsertOutcome.Inserted, await store.InsertBalanceAsync(NewBalance(balanceId: z), Ct));
        var now = Now();
        var xToY = NewTransaction(x, y, 100, TransactionStatus.Queued);
        var zToX = NewTransaction(z, x, 30, TransactionStatus.Queued);
        var xToZ = NewTransaction(x, z, 5, TransactionStatus.Queued);
        var hugeXToY = NewTransaction(x, y, _beyond64Bits, TransactionStatus.Queued);
        var applied = NewTransaction(x, y, 1000);
        // Scheduled transactions wait in the same queue but are not counted (only QUEUED ones are).
        var scheduled = NewTransaction(x, y, 7, TransactionStatus.Scheduled) with { ScheduledFor = now.AddDays(1) };
        await InsertAsync(store, [xToY, zToX, xToZ, hugeXToY, applied, scheduled], [
            new QueueEntry(xToY.TransactionId, now), new QueueEntry(zToX.TransactionId, now),
            new QueueEntry(xToZ.TransactionId, now), new QueueEntry(hugeXToY.TransactionId, now.AddDays(1)),
            new QueueEntry(scheduled.TransactionId, now.AddDays(1)),
        ]);

        Assert.Equal(new QueuedAmounts(105 + _beyond64Bits, 30), await store.GetQueuedAmountsAsync(x, Ct));
        Assert.Equal(new QueuedAmounts(0, 100 + _beyond64Bits), await store.GetQueuedAmountsAsync(y, Ct));
        Assert.Equal(new QueuedAmounts(30, 5), await store.GetQueuedAmountsAsync(z, Ct));
        Assert.Equal(new QueuedAmounts(0, 0), await store.GetQueuedAmountsAsync("bln_missing", Ct));

        await using (var batch = await store.BeginWriteBatchAsync(Ct))
        {
            await batch.TakeQueueEntriesAsync([xToZ.TransactionId, hugeXToY.TransactionId], Ct);
            await batch.CommitAsync(Ct);
        }

        Assert.Equal(new QueuedAmounts(100, 30), await store.GetQueuedAmountsAsync(x, Ct));
        Assert.Equal(new QueuedAmounts(0, 100), await store.GetQueuedAmountsAsync(y, Ct));
        Assert.Equal(new QueuedAmounts(30, 0), await store.GetQueuedAmountsAsync(z, Ct));
    }

    // ---- exactness ----

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Amounts_beyond_64_bits_round_trip_exactly(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);
        var twoTo64 = BigInteger.Pow(2, 64);
        var row = NewTransaction(source, destination, _beyond64Bits) with
        {
            Precision = BigInteger.Pow(10, 18),
        };

        await using (var batch = await store.BeginWriteBatchAsync(Ct))
        {
            var locked = await batch.LockBalancesAsync([source, destination], Ct);
            var updated = locked.Values.Select(balance => new Balance
            {
                BalanceId = balance.BalanceId, LedgerId = balance.LedgerId, Currency = balance.Currency,
                CreatedAt = balance.CreatedAt, Version = 1,
                Amounts = balance.BalanceId == source
                    ? new BalanceAmounts(twoTo64 + 1, _beyond64Bits, twoTo64, _beyond64Bits * 3)
                    : new BalanceAmounts(_beyond64Bits, 0, 0, 0),
            }).ToList();
            await batch.InsertTransactionsAsync([row], Ct);
            await batch.UpdateBalancesAsync([.. updated.Select(balance => new BalanceWrite(balance, 0))], Ct);
            await batch.CommitAsync(Ct);
        }

        var sourceAfter = (await store.GetBalanceAsync(source, Ct))!.Amounts;
        Assert.Equal(twoTo64 + 1, sourceAfter.CreditBalance);
        Assert.Equal(_beyond64Bits, sourceAfter.DebitBalance);
        Assert.Equal(twoTo64, sourceAfter.InflightCreditBalance);
        Assert.Equal(_beyond64Bits * 3, sourceAfter.InflightDebitBalance);
        Assert.Equal(twoTo64 + 1 - _beyond64Bits, sourceAfter.Balance);
        Assert.Equal(_beyond64Bits, (await store.GetBalanceAsync(destination, Ct))!.Amounts.CreditBalance);
        var stored = await store.GetTransactionAsync(row.TransactionId, Ct);
        Assert.Equal(BigInteger.Parse("1000000000000000000000000000007", CultureInfo.InvariantCulture),
            stored!.PreciseAmount);
        Assert.Equal(BigInteger.Pow(10, 18), stored.Precision);
    }

    public static readonly DateTime[] TimesToRoundTrip =
    [
        new DateTime(2024, 2, 29, 13, 45, 12, DateTimeKind.Utc).AddTicks(3_456_780),
        new DateTime(1969, 12, 31, 23, 59, 59, DateTimeKind.Utc).AddTicks(9_999_990),
        DateTime.UnixEpoch,
        new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddTicks(10),
        new DateTime(2199, 12, 31, 23, 59, 59, DateTimeKind.Utc).AddTicks(9_999_990),
    ];

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Times_round_trip_at_microsecond_precision_in_UTC(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (source, destination) = await CreateTwoBalancesAsync(store);
        foreach (var time in TimesToRoundTrip)
        {
            var ledger = new Ledger(NewId("ldg"), "t", time, null);
            await store.InsertLedgerAsync(ledger, Ct);
            var balance = NewBalance(createdAt: time);
            await store.InsertBalanceAsync(balance, Ct);
            var row = NewTransaction(source, destination, 1) with
            {
                CreatedAt = time, EffectiveDate = time.AddTicks(10), ScheduledFor = time.AddTicks(20),
                InflightExpiryDate = time.AddTicks(-10), InflightCommitDate = time.AddTicks(30),
            };
            await InsertAsync(store, [row]);

            var storedLedger = await store.GetLedgerAsync(ledger.LedgerId, Ct);
            var storedBalance = await store.GetBalanceAsync(balance.BalanceId, Ct);
            var storedRow = await store.GetTransactionAsync(row.TransactionId, Ct);

            AssertUtc(time, storedLedger!.CreatedAt);
            AssertUtc(time, storedBalance!.CreatedAt);
            AssertUtc(time, storedRow!.CreatedAt);
            AssertUtc(time.AddTicks(10), storedRow.EffectiveDate!.Value);
            AssertUtc(time.AddTicks(20), storedRow.ScheduledFor!.Value);
            AssertUtc(time.AddTicks(-10), storedRow.InflightExpiryDate!.Value);
            AssertUtc(time.AddTicks(30), storedRow.InflightCommitDate!.Value);
        }
        var unset = NewTransaction(source, destination, 1);
        await InsertAsync(store, [unset]);
        var stored = await store.GetTransactionAsync(unset.TransactionId, Ct);
        Assert.Null(stored!.EffectiveDate);
        Assert.Null(stored.ScheduledFor);
        Assert.Null(stored.InflightExpiryDate);
        Assert.Null(stored.InflightCommitDate);
    }

    // ---- the append-only log ----

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Raw_SQL_cannot_change_a_transactions_status_but_may_change_its_meta_data(string dialect)
    {
        var (store, dataSource) = await TestStores.CreateWithDataSourceAsync(dialect);
        await using var _ = store;
        var (source, destination) = await CreateTwoBalancesAsync(store);
        var row = NewTransaction(source, destination, 100, TransactionStatus.Inflight);
        await InsertAsync(store, [row]);
        var id = row.TransactionId;

        await Assert.ThrowsAnyAsync<DbException>(() => ExecuteRawAsync(dataSource,
            $"UPDATE transactions SET status = 'VOID' WHERE transaction_id = '{id}'"));
        await Assert.ThrowsAnyAsync<DbException>(() => ExecuteRawAsync(dataSource,
            $"UPDATE transactions SET precise_amount = precise_amount + 1 WHERE transaction_id = '{id}'"));
        Assert.Equal(row, await store.GetTransactionAsync(id, Ct));

        await ExecuteRawAsync(dataSource,
            $$"""UPDATE transactions SET meta_data = '{"note": "ok"}' WHERE transaction_id = '{{id}}'""");
        Assert.Equal(row with { MetaDataJson = """{"note": "ok"}""" }, await store.GetTransactionAsync(id, Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Raw_SQL_cannot_delete_a_transaction(string dialect)
    {
        var (store, dataSource) = await TestStores.CreateWithDataSourceAsync(dialect);
        await using var _ = store;
        var (source, destination) = await CreateTwoBalancesAsync(store);
        var row = NewTransaction(source, destination, 100);
        await InsertAsync(store, [row]);

        try
        {
            // SQLite refuses with an error; PostgreSQL's rule silently does nothing.
            await ExecuteRawAsync(dataSource, $"DELETE FROM transactions WHERE transaction_id = '{row.TransactionId}'");
        }
        catch (DbException)
        {
        }

        Assert.Equal(row, await store.GetTransactionAsync(row.TransactionId, Ct));
    }

    // ---- helpers ----

    internal static DateTime Now() => TruncateToMicroseconds(DateTime.UtcNow);

    private static DateTime TruncateToMicroseconds(DateTime time) =>
        new(time.Ticks - time.Ticks % 10, DateTimeKind.Utc);

    private static string NewId(string prefix) => $"{prefix}_{Guid.NewGuid()}";

    private static Balance NewBalance(string? indicator = null, string currency = "USD",
        string ledgerId = Ledger.GeneralLedgerId, string? identityId = null, string? balanceId = null,
        DateTime? createdAt = null) => new()
    {
        BalanceId = balanceId ?? NewId("bln"),
        LedgerId = ledgerId,
        Currency = currency,
        Indicator = indicator,
        IdentityId = identityId,
        CreatedAt = createdAt ?? Now(),
    };

    internal static TransactionRecord NewTransaction(string source, string destination, BigInteger amount,
        string status = TransactionStatus.Applied, string? reference = null)
    {
        reference ??= NewId("ref");
        return new TransactionRecord
        {
            TransactionId = NewId("txn"),
            Source = source,
            Destination = destination,
            Reference = reference,
            Currency = "USD",
            Status = status,
            Hash = TransactionHash.Compute(amount.ToString(CultureInfo.InvariantCulture), reference, "USD", source,
                destination),
            PreciseAmount = amount,
            Precision = 100,
            CreatedAt = Now(),
        };
    }

    internal static async Task<(string Source, string Destination)> CreateTwoBalancesAsync(ILedgerStore store)
    {
        var source = NewBalance();
        var destination = NewBalance();
        Assert.Equal(BalanceInsertOutcome.Inserted, await store.InsertBalanceAsync(source, Ct));
        Assert.Equal(BalanceInsertOutcome.Inserted, await store.InsertBalanceAsync(destination, Ct));
        return (source.BalanceId, destination.BalanceId);
    }

    /// <summary>One transfer as the writer applies it from locked balances.</summary>
    private static async Task MoveAsync(ILedgerStore store, string source, string destination, BigInteger amount)
    {
        await using var batch = await store.BeginWriteBatchAsync(Ct);
        var locked = await batch.LockBalancesAsync([source, destination], Ct);
        await batch.InsertTransactionsAsync([NewTransaction(source, destination, amount)], Ct);
        await batch.UpdateBalancesAsync([new BalanceWrite(Debited(locked[source], amount), locked[source].Version),
            new BalanceWrite(Credited(locked[destination], amount), locked[destination].Version)], Ct);
        await batch.CommitAsync(Ct);
    }

    private static Balance Debited(Balance balance, BigInteger amount) => Moved(balance, 0, amount);

    private static Balance Credited(Balance balance, BigInteger amount) => Moved(balance, amount, 0);

    private static Balance Moved(Balance balance, BigInteger credit, BigInteger debit) => new()
    {
        BalanceId = balance.BalanceId, LedgerId = balance.LedgerId, Currency = balance.Currency,
        IdentityId = balance.IdentityId, CreatedAt = balance.CreatedAt, Version = balance.Version + 1,
        Amounts = new BalanceAmounts(balance.Amounts.CreditBalance + credit, balance.Amounts.DebitBalance + debit,
            balance.Amounts.InflightCreditBalance, balance.Amounts.InflightDebitBalance),
    };

    /// <summary>A write may fail when sent with the commit (PostgreSQL) or at once (SQLite): either counts.</summary>
    private static async Task InsertAndCommitAsync(IWriteBatch batch, IReadOnlyList<TransactionRecord> rows)
    {
        await batch.InsertTransactionsAsync(rows, Ct);
        await batch.CommitAsync(Ct);
    }

    internal static async Task InsertAsync(ILedgerStore store, IReadOnlyList<TransactionRecord> rows,
        IReadOnlyList<QueueEntry>? queue = null)
    {
        await using var batch = await store.BeginWriteBatchAsync(Ct);
        await batch.InsertTransactionsAsync(rows, Ct);
        if (queue is not null)
        {
            await batch.EnqueueAsync(queue, Ct);
        }
        await batch.CommitAsync(Ct);
    }

    private static void AssertSameBalance(Balance expected, Balance? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.BalanceId, actual.BalanceId);
        Assert.Equal(expected.LedgerId, actual.LedgerId);
        Assert.Equal(expected.Currency, actual.Currency);
        Assert.Equal(expected.Indicator, actual.Indicator);
        Assert.Equal(expected.IdentityId, actual.IdentityId);
        Assert.Equal(expected.CreatedAt, actual.CreatedAt);
        Assert.Equal(expected.MetaDataJson, actual.MetaDataJson);
        Assert.Equal(expected.TrackFundLineage, actual.TrackFundLineage);
        Assert.Equal(expected.AllocationStrategy, actual.AllocationStrategy);
        Assert.Equal(expected.Version, actual.Version);
        Assert.Equal(BigInteger.Zero, actual.Amounts.CreditBalance);
        Assert.Equal(BigInteger.Zero, actual.Amounts.DebitBalance);
        Assert.Equal(BigInteger.Zero, actual.Amounts.InflightCreditBalance);
        Assert.Equal(BigInteger.Zero, actual.Amounts.InflightDebitBalance);
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task An_identity_is_read_back_and_a_balance_may_reference_it(string dialect)
    {
        var (store, dataSource) = await TestStores.CreateWithDataSourceAsync(dialect);
        await using var _ = store;
        var created = dialect == TestStores.Sqlite ? "1700000000000000" : "'2023-11-14T22:13:20Z'";
        await ExecuteRawAsync(dataSource, "INSERT INTO identities (identity_id, first_name, last_name, created_at, " +
            $"meta_data) VALUES ('idt_1', 'Ada', 'Lovelace', {created}, '{{\"tier\": 1}}')");

        var identity = await store.GetIdentityAsync("idt_1", Ct);

        Assert.NotNull(identity);
        Assert.Equal("Ada", identity.FirstName);
        Assert.Equal("Lovelace", identity.LastName);
        Assert.Equal("", identity.Country);
        Assert.Null(identity.Dob);
        AssertUtc(new DateTime(2023, 11, 14, 22, 13, 20, DateTimeKind.Utc), identity.CreatedAt);
        Assert.Contains("tier", identity.MetaDataJson, StringComparison.Ordinal);
        Assert.Null(await store.GetIdentityAsync("idt_missing", Ct));
        var balance = new Balance
        {
            BalanceId = "bln_with_identity", LedgerId = Ledger.GeneralLedgerId, Currency = "USD",
            IdentityId = "idt_1", CreatedAt = DateTime.UnixEpoch,
        };
        Assert.Equal(BalanceInsertOutcome.Inserted, await store.InsertBalanceAsync(balance, Ct));
        Assert.Equal("idt_1", (await store.GetBalanceAsync("bln_with_identity", Ct))!.IdentityId);
    }

    private static List<TransactionRecord> RowsOf(IReadOnlyList<ClaimedQueueEntry> entries) =>
        [.. entries.SelectMany(entry => entry.Rows)];

    private static void AssertUtc(DateTime expected, DateTime actual)
    {
        Assert.Equal(expected, actual);
        Assert.Equal(DateTimeKind.Utc, actual.Kind);
    }

    private static async Task ExecuteRawAsync(string dataSource, string sql)
    {
        await using var connection = await TestStores.OpenRawConnectionAsync(dataSource);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(Ct);
    }

    private static async Task<long> CountAsync(string dataSource, string sql)
    {
        await using var connection = await TestStores.OpenRawConnectionAsync(dataSource);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync(Ct), CultureInfo.InvariantCulture);
    }
}
