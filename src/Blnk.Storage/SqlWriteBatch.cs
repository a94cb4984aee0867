using System.Data.Common;
using System.Globalization;
using System.Text.Json.Nodes;
using Blnk.Core;
using Blnk.Core.Balances;
using Blnk.Core.Lineage;
using Blnk.Core.Transactions;

namespace Blnk.Storage;

/// <summary>
/// One database transaction of the batching writer, in SQL shared by both dialects. Its statements go through a
/// <see cref="StatementPipeline"/>: on PostgreSQL writes travel with the next read or the commit.
/// </summary>
internal sealed class SqlWriteBatch(SqlLedgerStore store, DbConnection connection, StatementPipeline pipeline)
    : IWriteBatch
{
    private const string UpdateBalanceSql = "UPDATE balances SET balance = @balance, credit_balance = @credit, " +
        "debit_balance = @debit, inflight_balance = @inflight, inflight_credit_balance = @inflightCredit, " +
        "inflight_debit_balance = @inflightDebit, version = @version WHERE balance_id = @id AND version = @readVersion " +
        "AND identity_id IS @identity";

    /// <summary>Why a batch whose queue entry names no stored transaction fails (it would never be applied).</summary>
    internal const string QueueEntryWithoutRow = "a queue entry names a transaction that is not stored";

    private const string EnqueueSql = "INSERT INTO transaction_queue (transaction_id, seq, available_at, lease_until, " +
        "group_id, lease_owner, scheduled) SELECT transaction_id, seq, @available, COALESCE(@leased, @available), " +
        $"@group, CASE WHEN @leased IS NULL THEN NULL ELSE @owner END, status = '{TransactionStatus.Scheduled}' " +
        "FROM transactions WHERE transaction_id = @id";

    private const string ScheduleActionSql = "INSERT INTO inflight_actions (action_id, transaction_id, action, " +
        "precise_amount, origin, available_at, lease_until) VALUES (@id, @transaction, @action, @amount, @origin, " +
        "@available, @available)";

    private const string InsertLineageWorkSql = "INSERT INTO lineage_outbox (transaction_id, lineage_type, " +
        "source_balance_id, source_identity_id, destination_balance_id, destination_identity_id, provider, " +
        "available_at, lease_until, created_at) VALUES (@id, @type, @source, @sourceIdentity, @destination, " +
        "@destinationIdentity, @provider, @now, @now, @now)";

    private const string InsertLineageMappingSql = "INSERT INTO lineage_mappings (balance_id, provider, " +
        "shadow_balance_id, aggregate_balance_id, identity_id, created_at) VALUES (@balance, @provider, @shadow, " +
        "@aggregate, @identity, @created) ON CONFLICT (balance_id, provider) DO NOTHING";

    private readonly SqlDialect _dialect = store.SqlDialect;

    public async Task<BatchReads> ReadAsync(BatchReadRequest request, CancellationToken cancellationToken)
    {
        var reads = new List<(DbCommand, Func<DbDataReader, Task>)>();
        // Rows never change once stored, so the holds need no lock of their own; their balances do.
        var holds = LoadHolds(reads, request.HoldIds, cancellationToken);
        var balances = LockBalances(reads, request.BalanceIds, request.HoldIds, cancellationToken);
        // After the locks: every other change to these holds had to take the same balance locks first.
        var progress = LoadHoldProgress(reads, request.HoldIds, cancellationToken);
        var references = FindExistingReferences(reads, request.References, cancellationToken);
        var entries = TakeQueueEntries(reads, request.QueueEntryIds, cancellationToken);
        var actions = TakeInflightActions(reads, request.InflightActionIds, cancellationToken);
        var lineageWork = TakeLineageWork(reads, request.LineageWorkSeqs, request.Now, cancellationToken);
        await pipeline.ReadAsync(reads, cancellationToken);
        return new BatchReads(balances, holds, progress, references, entries, actions, lineageWork);
    }

    private Dictionary<string, TransactionRecord> LoadHolds(List<(DbCommand, Func<DbDataReader, Task>)> reads,
        IReadOnlyCollection<string> holdIds, CancellationToken cancellationToken)
    {
        var holds = new Dictionary<string, TransactionRecord>(StringComparer.Ordinal);
        if (holdIds.Count == 0)
        {
            return holds;
        }
        var command = pipeline.CreateCommand();
        command.CommandText = SqlLedgerStore.TransactionsByIdSql(_dialect.AddInList(command, "ids", holdIds));
        ReadKeyed(reads, command, holds, store.ReadTransaction, hold => hold.TransactionId, cancellationToken);
        return holds;
    }

    private Dictionary<string, Balance> LockBalances(List<(DbCommand, Func<DbDataReader, Task>)> reads,
        IReadOnlyCollection<string> balanceIds, IReadOnlyCollection<string> holdIds,
        CancellationToken cancellationToken)
    {
        var balances = new Dictionary<string, Balance>(StringComparer.Ordinal);
        if (balanceIds.Count == 0 && holdIds.Count == 0)
        {
            return balances;
        }
        var command = pipeline.CreateCommand();
        var named = holdIds.Count == 0 ? $"balance_id {_dialect.AddInList(command, "ids", balanceIds)}"
            : _dialect.AddBalancesAndHoldBalances(command, balanceIds, holdIds);
        command.CommandText = $"SELECT {SqlLedgerStore.BalanceColumns} FROM balances WHERE {named} " +
            $"ORDER BY balance_id {_dialect.LockRowsClause}";
        ReadKeyed(reads, command, balances, store.ReadBalance, balance => balance.BalanceId, cancellationToken);
        return balances;
    }

    private HashSet<string> FindExistingReferences(List<(DbCommand, Func<DbDataReader, Task>)> reads,
        IReadOnlyCollection<string> references, CancellationToken cancellationToken) =>
        ReadStrings(reads, references, "refs", membership =>
            $"SELECT reference FROM transactions WHERE reference {membership}", cancellationToken);

    private HashSet<string> TakeQueueEntries(List<(DbCommand, Func<DbDataReader, Task>)> reads,
        IReadOnlyCollection<string> transactionIds, CancellationToken cancellationToken) =>
        ReadStrings(reads, transactionIds, "ids", membership =>
            $"DELETE FROM transaction_queue WHERE transaction_id {membership} RETURNING transaction_id", cancellationToken);

    public Task InsertTransactionsAsync(IReadOnlyList<TransactionRecord> rows, CancellationToken cancellationToken) =>
        WriteSetAsync(rows, (bulk, command) => bulk.InsertTransactions(command, rows),
            CountIs(rows.Count, cancellationToken), SqlLedgerStore.InsertTransactionSql, store.AddTransactionParameters,
            null, cancellationToken);

    /// <summary>A set statement's check of the one count it returns (it has already failed itself if short).</summary>
    private static Func<DbDataReader, Task> CountIs(int expected, CancellationToken cancellationToken) =>
        async reader => Invariant.Assert(await reader.ReadAsync(cancellationToken) && reader.GetInt64(0) == expected);

    /// <summary>A per-item statement's check that it wrote exactly one row.</summary>
    private static Func<DbDataReader, Task> OneRowOr(Func<Exception> failure) =>
        reader => reader.RecordsAffected == 1 ? Task.CompletedTask : throw failure();

    public async Task EnqueueAsync(IReadOnlyList<QueueEntry> entries, CancellationToken cancellationToken)
    {
        if (entries.Any(entry => entry.LeasedUntil is not null))
        {
            // Other processes must see this one alive, or they would take its leases for a dead process's.
            await _dialect.HoldLeasesAsync(cancellationToken);
        }
        await WriteSetAsync(entries, (bulk, command) => bulk.Enqueue(command, entries, _dialect.LeaseOwner),
            CountIs(entries.Count, cancellationToken), EnqueueSql, (command, entry) =>
            {
                SqlDialect.Add(command, "id", entry.TransactionId);
                _dialect.AddTime(command, "available", entry.AvailableAt);
                SqlDialect.Add(command, "group", entry.GroupId);
                _dialect.AddTime(command, "leased", entry.LeasedUntil);
                SqlDialect.Add(command, "owner", _dialect.LeaseOwner);
            },
            // The entry is selected from its row: without the row nothing is inserted, and nothing would fail.
            OneRowOr(() => new InvariantException(QueueEntryWithoutRow)), cancellationToken);
    }

    /// <summary>For each inflight row: the sum of its APPLIED (commit) children and whether a VOID child exists.</summary>
    internal async Task<Dictionary<string, HoldProgress>> LoadHoldProgressAsync(IReadOnlyCollection<string> holdIds,
        CancellationToken cancellationToken) =>
        await RunAsync(reads => LoadHoldProgress(reads, holdIds, cancellationToken), cancellationToken);

    private Dictionary<string, HoldProgress> LoadHoldProgress(List<(DbCommand, Func<DbDataReader, Task>)> reads,
        IReadOnlyCollection<string> holdIds, CancellationToken cancellationToken)
    {
        var progress = holdIds.ToDictionary(id => id, _ => new HoldProgress(0, false), StringComparer.Ordinal);
        if (holdIds.Count == 0)
        {
            return progress;
        }
        var command = pipeline.CreateCommand();
        var membership = _dialect.AddInList(command, "ids", holdIds);
        command.CommandText = "SELECT parent_transaction, status, precise_amount FROM transactions " +
            $"WHERE parent_transaction {membership} AND status IN ('{TransactionStatus.Applied}', '{TransactionStatus.Void}')";
        reads.Add((command, async reader =>
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var (holdId, current) = (reader.GetString(0), progress[reader.GetString(0)]);
                progress[holdId] = reader.GetString(1) == TransactionStatus.Void
                    ? current with { Voided = true }
                    : current with { Committed = current.Committed + _dialect.ReadAmount(reader, 2) };
            }
        }));
        return progress;
    }

    private HashSet<string> TakeInflightActions(List<(DbCommand, Func<DbDataReader, Task>)> reads,
        IReadOnlyCollection<string> actionIds, CancellationToken cancellationToken) =>
        ReadStrings(reads, actionIds, "ids", membership =>
            $"DELETE FROM inflight_actions WHERE action_id {membership} RETURNING action_id", cancellationToken);

    public Task ScheduleInflightActionsAsync(IReadOnlyList<InflightActionEntry> actions,
        CancellationToken cancellationToken) =>
        pipeline.WriteEachAsync(ScheduleActionSql, actions, store.AddInflightActionParameters, null, cancellationToken);

    public Task UpdateBalancesAsync(IReadOnlyCollection<BalanceWrite> writes, CancellationToken cancellationToken)
    {
        foreach (var write in writes)
        {
            AssertBalanceInvariants(write);
        }
        return WriteSetAsync(writes, (bulk, command) => bulk.UpdateBalances(command, writes),
            CountIs(writes.Count, cancellationToken), UpdateBalanceSql, BindBalance,
            OneRowOr(() => new StaleBalanceException($"{StatementPipeline.BalanceChanged}a balance was not as read")),
            cancellationToken);
    }

    public Task AppendOutboxAsync(IReadOnlyList<OutboxEvent> events, DateTime now,
        CancellationToken cancellationToken) =>
        WriteSetAsync(events, (bulk, command) => bulk.InsertOutbox(command, events, now), null,
            SqlLedgerStore.InsertOutboxSql, (command, outboxEvent) => store.BindOutboxEvent(command, outboxEvent, now),
            null, cancellationToken);

    public Task AppendLineageWorkAsync(IReadOnlyList<LineageWork> work, DateTime now,
        CancellationToken cancellationToken) =>
        pipeline.WriteEachAsync(InsertLineageWorkSql, work, (command, item) =>
        {
            SqlDialect.Add(command, "id", item.TransactionId);
            SqlDialect.Add(command, "type", item.Type);
            SqlDialect.Add(command, "source", item.SourceBalanceId);
            SqlDialect.Add(command, "sourceIdentity", item.SourceIdentityId);
            SqlDialect.Add(command, "destination", item.DestinationBalanceId);
            SqlDialect.Add(command, "destinationIdentity", item.DestinationIdentityId);
            SqlDialect.Add(command, "provider", item.Provider);
            _dialect.AddTime(command, "now", now);
        }, null, cancellationToken);

    private HashSet<long> TakeLineageWork(List<(DbCommand, Func<DbDataReader, Task>)> reads,
        IReadOnlyCollection<long> seqs, DateTime now, CancellationToken cancellationToken)
    {
        var taken = new HashSet<long>();
        if (seqs.Count == 0)
        {
            return taken;
        }
        var command = pipeline.CreateCommand();
        // Integers formatted by us, not user text: a literal list works the same in both dialects.
        var list = string.Join(", ", seqs.Select(seq => seq.ToString(CultureInfo.InvariantCulture)));
        command.CommandText = $"UPDATE lineage_outbox SET processed_at = @now WHERE seq IN ({list}) " +
            "AND processed_at IS NULL RETURNING seq";
        _dialect.AddTime(command, "now", now);
        reads.Add((command, async reader =>
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                taken.Add(reader.GetInt64(0));
            }
        }));
        return taken;
    }

    public async Task SettleLineageAsync(IReadOnlyList<LineageSettlement> settlements,
        CancellationToken cancellationToken)
    {
        await pipeline.WriteEachAsync(InsertLineageMappingSql,
            [.. settlements.SelectMany(settlement => settlement.Mappings)], (command, mapping) =>
            {
                SqlDialect.Add(command, "balance", mapping.BalanceId);
                SqlDialect.Add(command, "provider", mapping.Provider);
                SqlDialect.Add(command, "shadow", mapping.ShadowBalanceId);
                SqlDialect.Add(command, "aggregate", mapping.AggregateBalanceId);
                SqlDialect.Add(command, "identity", mapping.IdentityId);
                _dialect.AddTime(command, "created", mapping.CreatedAt);
            }, null, cancellationToken);
        foreach (var settlement in settlements)
        {
            if (settlement is { AllocatedTransactionId: { } transactionId, FundAllocationJson: { } allocation })
            {
                await MergeFundAllocationAsync(transactionId, allocation, cancellationToken);
            }
        }
    }

    public Task CommitAsync(CancellationToken cancellationToken) => pipeline.CommitAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await pipeline.DisposeAsync();
        await connection.DisposeAsync();
    }

    /// <summary>
    /// Sets <c>BLNK_FUND_ALLOCATION</c> in a transaction's meta_data, keeping its other keys, as a metadata
    /// update does (row locked while merged, so neither loses the other's keys).
    /// </summary>
    private async Task MergeFundAllocationAsync(string transactionId, string allocationJson,
        CancellationToken cancellationToken)
    {
        await pipeline.FlushAsync(cancellationToken);
        var merged = await store.MergeRowsMetaDataAsync(connection, pipeline.Transaction, "transactions",
            "transaction_id",
            "transaction_id = @id", transactionId, current =>
            {
                var metaData = current is null ? [] : JsonNode.Parse(current)!.AsObject();
                metaData[LineageNames.FundAllocationKey] = JsonNode.Parse(allocationJson);
                return metaData.ToJsonString();
            }, cancellationToken);
        Invariant.Assert(merged is not null);
    }

    private static void AssertBalanceInvariants(BalanceWrite write)
    {
        var (balance, amounts) = (write.Balance, write.Balance.Amounts);
        Invariant.Assert(amounts.Balance == amounts.CreditBalance - amounts.DebitBalance);
        Invariant.Assert(amounts.InflightBalance == amounts.InflightCreditBalance - amounts.InflightDebitBalance);
        Invariant.Assert(balance.Version >= write.ReadVersion && write.ReadVersion >= 0);
    }

    private void BindBalance(DbCommand command, BalanceWrite write)
    {
        var (balance, amounts) = (write.Balance, write.Balance.Amounts);
        SqlDialect.Add(command, "id", balance.BalanceId);
        _dialect.AddAmount(command, "balance", amounts.Balance);
        _dialect.AddAmount(command, "credit", amounts.CreditBalance);
        _dialect.AddAmount(command, "debit", amounts.DebitBalance);
        _dialect.AddAmount(command, "inflight", amounts.InflightBalance);
        _dialect.AddAmount(command, "inflightCredit", amounts.InflightCreditBalance);
        _dialect.AddAmount(command, "inflightDebit", amounts.InflightDebitBalance);
        SqlDialect.Add(command, "version", balance.Version);
        SqlDialect.Add(command, "readVersion", write.ReadVersion);
        SqlDialect.Add(command, "identity", balance.IdentityId);
    }

    /// <summary>
    /// Writes <paramref name="items"/> as one set-based statement where the dialect has one (checked by
    /// <paramref name="bulkCheck"/>), else as <paramref name="sql"/> once per item (each checked by
    /// <paramref name="eachCheck"/>).
    /// </summary>
    private async Task WriteSetAsync<T>(IReadOnlyCollection<T> items, Action<IBulkWriter, DbCommand> bulkWrite,
        Func<DbDataReader, Task>? bulkCheck, string sql, Action<DbCommand, T> bind, Func<DbDataReader, Task>? eachCheck,
        CancellationToken cancellationToken)
    {
        if (items.Count == 0)
        {
            return;
        }
        if (_dialect.BulkWriter is not { } bulk)
        {
            // One statement per item: the dialect has no set-based form of it.
            await pipeline.WriteEachAsync(sql, items, bind, eachCheck, cancellationToken);
            return;
        }
        var command = pipeline.CreateCommand();
        bulkWrite(bulk, command);
        await pipeline.WriteAsync(command, bulkCheck, cancellationToken);
    }

    /// <summary>Runs one read built by <paramref name="build"/> and returns what it filled.</summary>
    private async Task<T> RunAsync<T>(Func<List<(DbCommand, Func<DbDataReader, Task>)>, T> build,
        CancellationToken cancellationToken)
    {
        var reads = new List<(DbCommand, Func<DbDataReader, Task>)>();
        var result = build(reads);
        await pipeline.ReadAsync(reads, cancellationToken);
        return result;
    }

    /// <summary>A read whose rows fill <paramref name="into"/>, each under its key.</summary>
    private static void ReadKeyed<T>(List<(DbCommand, Func<DbDataReader, Task>)> reads, DbCommand command,
        Dictionary<string, T> into, Func<DbDataReader, T> read, Func<T, string> key,
        CancellationToken cancellationToken) =>
        reads.Add((command, async reader =>
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var row = read(reader);
                into[key(row)] = row;
            }
        }));

    /// <summary>A read of one string column for the keys <paramref name="keys"/> (none when there are no keys).</summary>
    private HashSet<string> ReadStrings(List<(DbCommand, Func<DbDataReader, Task>)> reads,
        IReadOnlyCollection<string> keys, string name, Func<string, string> sql, CancellationToken cancellationToken)
    {
        var values = new HashSet<string>(StringComparer.Ordinal);
        if (keys.Count == 0)
        {
            return values;
        }
        var command = pipeline.CreateCommand();
        command.CommandText = sql(_dialect.AddInList(command, name, keys));
        reads.Add((command, async reader =>
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                values.Add(reader.GetString(0));
            }
        }));
        return values;
    }
}
