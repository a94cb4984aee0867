using System.Data.Common;
using Blnk.Core.Transactions;

namespace Blnk.Storage;

/// <summary>The kinds of rows whose meta_data <c>POST /{id}/metadata</c> updates (contract §4.8).</summary>
public enum MetadataEntity
{
    Ledger,
    Balance,
    Identity,

    /// <summary>The transaction row with the id and every row whose parent_transaction is the id.</summary>
    Transaction,
}

public partial interface ILedgerStore
{
    /// <summary>
    /// Replaces the meta_data of the entity's rows with <paramref name="merge"/>(current meta_data JSON or
    /// null), reading and writing each row in one database transaction so that concurrent updates never
    /// lose each other's keys. Returns the last merged JSON, or null when no row exists.
    /// </summary>
    Task<string?> MergeMetaDataAsync(MetadataEntity entity, string entityId, Func<string?, string> merge,
        CancellationToken cancellationToken);

    /// <summary>
    /// Makes due queue entries of QUEUED/SCHEDULED transactions created before <paramref name="createdBefore"/>
    /// claimable at once, cutting short any lease; returns how many entries that concerned.
    /// </summary>
    Task<int> ReleaseStaleQueueEntriesAsync(DateTime now, DateTime createdBefore, CancellationToken cancellationToken);
}

public partial class SqlLedgerStore
{
    public async Task<string?> MergeMetaDataAsync(MetadataEntity entity, string entityId,
        Func<string?, string> merge, CancellationToken cancellationToken)
    {
        var (table, key, rowsOfEntity) = entity switch
        {
            MetadataEntity.Ledger => ("ledgers", "ledger_id", "ledger_id = @id"),
            MetadataEntity.Balance => ("balances", "balance_id", "balance_id = @id"),
            MetadataEntity.Identity => ("identities", "identity_id", "identity_id = @id"),
            MetadataEntity.Transaction => ("transactions", "transaction_id",
                "transaction_id = @id OR parent_transaction = @id ORDER BY seq"),
            _ => throw new ArgumentOutOfRangeException(nameof(entity), entity, null),
        };
        await using var connection = await SqlDialect.OpenAsync(cancellationToken);
        // SQLite: BEGIN IMMEDIATE; PostgreSQL: the row locks of MergeRowsMetaDataAsync. Either way the
        // read-merge-write of a row cannot interleave with another update of it.
        await using var dbTransaction = await SqlDialect.BeginWriteAsync(connection, cancellationToken);
        var merged = await MergeRowsMetaDataAsync(connection, dbTransaction, table, key, rowsOfEntity, entityId, merge,
            cancellationToken);
        await dbTransaction.CommitAsync(cancellationToken);
        return merged;
    }

    /// <summary>
    /// Inside a write transaction: locks the rows of <paramref name="table"/> that <paramref name="rowsWhere"/>
    /// (with <c>@id</c>) selects, and replaces each row's meta_data with <paramref name="merge"/>(current).
    /// Returns the last merged JSON, or null when no row matched.
    /// </summary>
    internal async Task<string?> MergeRowsMetaDataAsync(DbConnection connection, DbTransaction? dbTransaction,
        string table, string key, string rowsWhere, string id, Func<string?, string> merge,
        CancellationToken cancellationToken)
    {
        var rows = new List<(string Key, string? MetaData)>();
        await using (var select = connection.CreateCommand())
        {
            select.Transaction = dbTransaction;
            select.CommandText =
                $"SELECT {key}, meta_data FROM {table} WHERE {rowsWhere} {SqlDialect.LockRowsClause}";
            SqlDialect.Add(select, "id", id);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add((reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1)));
            }
        }
        string? merged = null;
        await using var update = connection.CreateCommand();
        update.Transaction = dbTransaction;
        update.CommandText = $"UPDATE {table} SET meta_data = @meta WHERE {key} = @key";
        foreach (var (rowKey, metaData) in rows)
        {
            merged = merge(metaData);
            update.Parameters.Clear();
            SqlDialect.AddJson(update, "meta", merged);
            SqlDialect.Add(update, "key", rowKey);
            await update.ExecuteNonQueryAsync(cancellationToken);
        }
        return merged;
    }

    public async Task<int> ReleaseStaleQueueEntriesAsync(DateTime now, DateTime createdBefore,
        CancellationToken cancellationToken)
    {
        await using var connection = await SqlDialect.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        // Driven by the (small) queue, each entry checked by its row's primary key: no scan of the log.
        command.CommandText = "UPDATE transaction_queue SET lease_until = @now WHERE available_at <= @now " +
            "AND EXISTS (SELECT 1 FROM transactions t WHERE t.transaction_id = transaction_queue.transaction_id " +
            $"AND t.status IN ('{TransactionStatus.Queued}', '{TransactionStatus.Scheduled}') " +
            "AND t.created_at < @createdBefore)";
        SqlDialect.AddTime(command, "now", now);
        SqlDialect.AddTime(command, "createdBefore", createdBefore);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
