using System.Data.Common;
using System.Globalization;
using System.Text.Json.Nodes;
using Blnk.Core;
using Blnk.Core.Balances;
using Blnk.Core.Lineage;
using Blnk.Core.Transactions;

namespace Blnk.Storage;

/// <summary>One database transaction of the batching writer, in SQL shared by both dialects.</summary>
internal sealed class SqlWriteBatch(SqlLedgerStore store, DbConnection connection, DbTransaction dbTransaction)
    : IWriteBatch
{
    private const string UpdateBalanceSql = "UPDATE balances SET balance = @balance, credit_balance = @credit, " +
        "debit_balance = @debit, inflight_balance = @inflight, inflight_credit_balance = @inflightCredit, " +
        "inflight_debit_balance = @inflightDebit, version = @version WHERE balance_id = @id";

    private const string EnqueueSql = "INSERT INTO transaction_queue (transaction_id, seq, available_at, lease_until, " +
        "group_id) SELECT transaction_id, seq, @available, @available, @group FROM transactions WHERE transaction_id = @id";

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

    public async Task<Dictionary<string, Balance>> LockBalancesAsync(IReadOnlyCollection<string> balanceIds,
        CancellationToken cancellationToken)
    {
        var balances = new Dictionary<string, Balance>(StringComparer.Ordinal);
        if (balanceIds.Count == 0)
        {
            return balances;
        }
        await using var command = Command();
        var membership = _dialect.AddInList(command, "ids", balanceIds);
        command.CommandText = $"SELECT {SqlLedgerStore.BalanceColumns} FROM balances WHERE balance_id {membership} " +
            $"ORDER BY balance_id {_dialect.LockRowsClause}";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var balance = store.ReadBalance(reader);
            balances[balance.BalanceId] = balance;
        }
        return balances;
    }

    public async Task<HashSet<string>> FindExistingReferencesAsync(IReadOnlyCollection<string> references,
        CancellationToken cancellationToken)
    {
        if (references.Count == 0)
        {
            return [];
        }
        await using var command = Command();
        var membership = _dialect.AddInList(command, "refs", references);
        command.CommandText = $"SELECT reference FROM transactions WHERE reference {membership}";
        return await ReadStringsAsync(command, cancellationToken);
    }

    public async Task<HashSet<string>> TakeQueueEntriesAsync(IReadOnlyCollection<string> transactionIds,
        CancellationToken cancellationToken)
    {
        if (transactionIds.Count == 0)
        {
            return [];
        }
        await using var command = Command();
        var membership = _dialect.AddInList(command, "ids", transactionIds);
        command.CommandText = $"DELETE FROM transaction_queue WHERE transaction_id {membership} RETURNING transaction_id";
        return await ReadStringsAsync(command, cancellationToken);
    }

    public Task InsertTransactionsAsync(IReadOnlyList<TransactionRecord> rows, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
        {
            return Task.CompletedTask;
        }
        return _dialect.BulkWriter is { } bulk
            ? bulk.InsertTransactionsAsync(Command(), rows, cancellationToken)
            : SqlDialect.ExecuteManyAsync(connection, dbTransaction, SqlLedgerStore.InsertTransactionSql, rows,
                store.AddTransactionParameters, cancellationToken);
    }

    public Task EnqueueAsync(IReadOnlyList<QueueEntry> entries, CancellationToken cancellationToken)
    {
        if (entries.Count == 0)
        {
            return Task.CompletedTask;
        }
        return _dialect.BulkWriter is { } bulk
            ? bulk.EnqueueAsync(Command(), entries, cancellationToken)
            : SqlDialect.ExecuteManyAsync(connection, dbTransaction, EnqueueSql, entries, (command, entry) =>
            {
                SqlDialect.Add(command, "id", entry.TransactionId);
                _dialect.AddTime(command, "available", entry.AvailableAt);
                SqlDialect.Add(command, "group", entry.GroupId);
            }, cancellationToken);
    }

    public Task<Dictionary<string, TransactionRecord>> LoadTransactionsAsync(
        IReadOnlyCollection<string> transactionIds, CancellationToken cancellationToken) =>
        store.LoadByIdsAsync(connection, dbTransaction, transactionIds, cancellationToken);

    public async Task<Dictionary<string, HoldProgress>> LoadHoldProgressAsync(IReadOnlyCollection<string> holdIds,
        CancellationToken cancellationToken)
    {
        var progress = holdIds.ToDictionary(id => id, _ => new HoldProgress(0, false), StringComparer.Ordinal);
        if (holdIds.Count == 0)
        {
            return progress;
        }
        await using var command = Command();
        var membership = _dialect.AddInList(command, "ids", holdIds);
        command.CommandText = "SELECT parent_transaction, status, precise_amount FROM transactions " +
            $"WHERE parent_transaction {membership} AND status IN ('{TransactionStatus.Applied}', '{TransactionStatus.Void}')";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var (holdId, current) = (reader.GetString(0), progress[reader.GetString(0)]);
            progress[holdId] = reader.GetString(1) == TransactionStatus.Void
                ? current with { Voided = true }
                : current with { Committed = current.Committed + _dialect.ReadAmount(reader, 2) };
        }
        return progress;
    }

    public async Task<HashSet<string>> TakeInflightActionsAsync(IReadOnlyCollection<string> actionIds,
        CancellationToken cancellationToken)
    {
        if (actionIds.Count == 0)
        {
            return [];
        }
        await using var command = Command();
        var membership = _dialect.AddInList(command, "ids", actionIds);
        command.CommandText = $"DELETE FROM inflight_actions WHERE action_id {membership} RETURNING action_id";
        return await ReadStringsAsync(command, cancellationToken);
    }

    public Task ScheduleInflightActionsAsync(IReadOnlyList<InflightActionEntry> actions,
        CancellationToken cancellationToken) =>
        SqlDialect.ExecuteManyAsync(connection, dbTransaction, ScheduleActionSql, actions,
            (command, action) => store.AddInflightActionParameters(command, action), cancellationToken);

    public Task UpdateBalancesAsync(IReadOnlyCollection<Balance> balances, CancellationToken cancellationToken)
    {
        if (balances.Count == 0)
        {
            return Task.CompletedTask;
        }
        foreach (var balance in balances)
        {
            AssertBalanceInvariants(balance);
        }
        return _dialect.BulkWriter is { } bulk
            ? bulk.UpdateBalancesAsync(Command(), balances, cancellationToken)
            : SqlDialect.ExecuteManyAsync(connection, dbTransaction, UpdateBalanceSql, balances, BindBalance,
                cancellationToken);
    }

    public Task AppendOutboxAsync(IReadOnlyList<OutboxEvent> events, DateTime now,
        CancellationToken cancellationToken) =>
        events.Count == 0 ? Task.CompletedTask
        : _dialect.BulkWriter is { } bulk ? bulk.InsertOutboxAsync(Command(), events, now, cancellationToken)
        : store.WriteOutboxAsync(connection, dbTransaction, events, now, cancellationToken);

    public Task AppendLineageWorkAsync(IReadOnlyList<LineageWork> work, DateTime now,
        CancellationToken cancellationToken) =>
        SqlDialect.ExecuteManyAsync(connection, dbTransaction, InsertLineageWorkSql, work, (command, item) =>
        {
            SqlDialect.Add(command, "id", item.TransactionId);
            SqlDialect.Add(command, "type", item.Type);
            SqlDialect.Add(command, "source", item.SourceBalanceId);
            SqlDialect.Add(command, "sourceIdentity", item.SourceIdentityId);
            SqlDialect.Add(command, "destination", item.DestinationBalanceId);
            SqlDialect.Add(command, "destinationIdentity", item.DestinationIdentityId);
            SqlDialect.Add(command, "provider", item.Provider);
            _dialect.AddTime(command, "now", now);
        }, cancellationToken);

    public async Task<HashSet<long>> TakeLineageWorkAsync(IReadOnlyCollection<long> seqs, DateTime now,
        CancellationToken cancellationToken)
    {
        var taken = new HashSet<long>();
        if (seqs.Count == 0)
        {
            return taken;
        }
        await using var command = Command();
        // Integers formatted by us, not user text: a literal list works the same in both dialects.
        var list = string.Join(", ", seqs.Select(seq => seq.ToString(CultureInfo.InvariantCulture)));
        command.CommandText = $"UPDATE lineage_outbox SET processed_at = @now WHERE seq IN ({list}) " +
            "AND processed_at IS NULL RETURNING seq";
        _dialect.AddTime(command, "now", now);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            taken.Add(reader.GetInt64(0));
        }
        return taken;
    }

    public async Task SettleLineageAsync(IReadOnlyList<LineageSettlement> settlements,
        CancellationToken cancellationToken)
    {
        await SqlDialect.ExecuteManyAsync(connection, dbTransaction, InsertLineageMappingSql,
            [.. settlements.SelectMany(settlement => settlement.Mappings)], (command, mapping) =>
            {
                SqlDialect.Add(command, "balance", mapping.BalanceId);
                SqlDialect.Add(command, "provider", mapping.Provider);
                SqlDialect.Add(command, "shadow", mapping.ShadowBalanceId);
                SqlDialect.Add(command, "aggregate", mapping.AggregateBalanceId);
                SqlDialect.Add(command, "identity", mapping.IdentityId);
                _dialect.AddTime(command, "created", mapping.CreatedAt);
            }, cancellationToken);
        foreach (var settlement in settlements)
        {
            if (settlement is { AllocatedTransactionId: { } transactionId, FundAllocationJson: { } allocation })
            {
                await MergeFundAllocationAsync(transactionId, allocation, cancellationToken);
            }
        }
    }

    public Task CommitAsync(CancellationToken cancellationToken) => dbTransaction.CommitAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await dbTransaction.DisposeAsync();
        await connection.DisposeAsync();
    }

    /// <summary>
    /// Sets <c>BLNK_FUND_ALLOCATION</c> in a transaction's meta_data, keeping its other keys, as a metadata
    /// update does (row locked while merged, so neither loses the other's keys).
    /// </summary>
    private async Task MergeFundAllocationAsync(string transactionId, string allocationJson,
        CancellationToken cancellationToken)
    {
        var merged = await store.MergeRowsMetaDataAsync(connection, dbTransaction, "transactions", "transaction_id",
            "transaction_id = @id", transactionId, current =>
            {
                var metaData = current is null ? [] : JsonNode.Parse(current)!.AsObject();
                metaData[LineageNames.FundAllocationKey] = JsonNode.Parse(allocationJson);
                return metaData.ToJsonString();
            }, cancellationToken);
        Invariant.Assert(merged is not null);
    }

    private static void AssertBalanceInvariants(Balance balance)
    {
        var amounts = balance.Amounts;
        Invariant.Assert(amounts.Balance == amounts.CreditBalance - amounts.DebitBalance);
        Invariant.Assert(amounts.InflightBalance == amounts.InflightCreditBalance - amounts.InflightDebitBalance);
        Invariant.Assert(balance.Version >= 0);
    }

    private void BindBalance(DbCommand command, Balance balance)
    {
        var amounts = balance.Amounts;
        SqlDialect.Add(command, "id", balance.BalanceId);
        _dialect.AddAmount(command, "balance", amounts.Balance);
        _dialect.AddAmount(command, "credit", amounts.CreditBalance);
        _dialect.AddAmount(command, "debit", amounts.DebitBalance);
        _dialect.AddAmount(command, "inflight", amounts.InflightBalance);
        _dialect.AddAmount(command, "inflightCredit", amounts.InflightCreditBalance);
        _dialect.AddAmount(command, "inflightDebit", amounts.InflightDebitBalance);
        SqlDialect.Add(command, "version", balance.Version);
    }

    private DbCommand Command()
    {
        var command = connection.CreateCommand();
        command.Transaction = dbTransaction;
        return command;
    }

    private static async Task<HashSet<string>> ReadStringsAsync(DbCommand command, CancellationToken cancellationToken)
    {
        var values = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            values.Add(reader.GetString(0));
        }
        return values;
    }
}
