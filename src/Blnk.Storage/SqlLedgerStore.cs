using System.Data.Common;
using System.Numerics;
using Blnk.Core.Balances;
using Blnk.Core.Identities;
using Blnk.Core.Ledgers;
using Blnk.Core.Transactions;

namespace Blnk.Storage;

/// <summary>
/// The storage port in hand-written SQL shared by both dialects; <see cref="SqlDialect"/> supplies
/// the parts that differ.
/// </summary>
public partial class SqlLedgerStore(SqlDialect dialect) : ILedgerStore
{
    internal const string BalanceColumns = "balance_id, ledger_id, currency, indicator, identity_id, created_at, " +
        "meta_data, track_fund_lineage, allocation_strategy, version, credit_balance, debit_balance, " +
        "inflight_credit_balance, inflight_debit_balance";

    internal const string TransactionColumns = "transaction_id, parent_transaction, source, destination, reference, " +
        "currency, description, status, hash, precise_amount, precision, overdraft_limit, allow_overdraft, " +
        "inflight, skip_queue, atomic, created_at, effective_date, scheduled_for, inflight_expiry_date, " +
        "inflight_commit_date, meta_data";

    /// <summary>Transaction rows whose id passes <paramref name="membership"/> (see <see cref="SqlDialect.AddInList"/>).</summary>
    internal static string TransactionsByIdSql(string membership) =>
        $"SELECT {TransactionColumns} FROM transactions WHERE transaction_id {membership}";

    /// <summary>How many columns <see cref="TransactionColumns"/> names: the ordinal of a column selected after them.</summary>
    internal static readonly int TransactionColumnCount = TransactionColumns.Split(", ").Length;

    private const string IdentityColumns = "identity_id, identity_type, organization_name, category, first_name, " +
        "last_name, other_names, gender, email_address, phone_number, nationality, street, country, state, " +
        "post_code, city, dob, created_at, meta_data";

    private const string LedgerColumns = "ledger_id, name, created_at, meta_data";

    public string Dialect => dialect.Name;

    internal SqlDialect SqlDialect => dialect;

    public Task MigrateAsync(CancellationToken cancellationToken) => Migrator.MigrateAsync(dialect, cancellationToken);

    public async Task<bool> PingAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await dialect.OpenAsync(cancellationToken);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT 1";
            await command.ExecuteScalarAsync(cancellationToken);
            return true;
        }
        catch (DbException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    public Task InsertLedgerAsync(Ledger ledger, CancellationToken cancellationToken,
        IReadOnlyList<OutboxEvent>? events = null) =>
        WriteWithEventsAsync(async command =>
    {
        command.CommandText = $"INSERT INTO ledgers ({LedgerColumns}) VALUES (@id, @name, @created, @meta)";
        SqlDialect.Add(command, "id", ledger.LedgerId);
        SqlDialect.Add(command, "name", ledger.Name);
        dialect.AddTime(command, "created", ledger.CreatedAt);
        dialect.AddJson(command, "meta", ledger.MetaDataJson);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }, events, cancellationToken);

    public async Task<Ledger?> GetLedgerAsync(string ledgerId, CancellationToken cancellationToken)
    {
        var ledgers = await QueryAsync($"SELECT {LedgerColumns} FROM ledgers WHERE ledger_id = @id",
            command => SqlDialect.Add(command, "id", ledgerId), ReadLedger, cancellationToken);
        return ledgers.Count > 0 ? ledgers[0] : null;
    }

    public Task<IReadOnlyList<Ledger>> ListLedgersAsync(int limit, int offset, CancellationToken cancellationToken) =>
        QueryAsync($"SELECT {LedgerColumns} FROM ledgers ORDER BY created_at DESC, ledger_id LIMIT @limit OFFSET @offset",
            command => AddPage(command, limit, offset), ReadLedger, cancellationToken);

    public async Task<bool> RenameLedgerAsync(string ledgerId, string name, CancellationToken cancellationToken,
        IReadOnlyList<OutboxEvent>? events = null) =>
        await WriteWithEventsAsync(async command =>
        {
            command.CommandText = "UPDATE ledgers SET name = @name WHERE ledger_id = @id";
            SqlDialect.Add(command, "id", ledgerId);
            SqlDialect.Add(command, "name", name);
            return await command.ExecuteNonQueryAsync(cancellationToken);
        }, events, cancellationToken) == 1;

    /// <summary>
    /// Runs one write and records <paramref name="events"/> with it in one database transaction; events are
    /// only recorded when the write changed a row. Returns the number of rows the write changed.
    /// </summary>
    internal async Task<int> WriteWithEventsAsync(Func<DbCommand, Task<int>> write,
        IReadOnlyList<OutboxEvent>? events, CancellationToken cancellationToken)
    {
        await using var connection = await dialect.OpenAsync(cancellationToken);
        await using var dbTransaction = await dialect.BeginWriteAsync(connection, cancellationToken);
        int changed;
        await using (var command = connection.CreateCommand())
        {
            command.Transaction = dbTransaction;
            changed = await write(command);
        }
        if (changed > 0 && events is { Count: > 0 })
        {
            await WriteOutboxAsync(connection, dbTransaction, events, DateTime.UtcNow, cancellationToken);
        }
        await dbTransaction.CommitAsync(cancellationToken);
        return changed;
    }

    public async Task<BalanceInsertOutcome> InsertBalanceAsync(Balance balance, CancellationToken cancellationToken,
        IReadOnlyList<OutboxEvent>? events = null)
    {
        try
        {
            await WriteWithEventsAsync(command => InsertBalanceRowAsync(command, balance, cancellationToken), events,
                cancellationToken);
            return BalanceInsertOutcome.Inserted;
        }
        catch (DbException exception) when (dialect.IsUniqueViolation(exception, out var constraint)
            && constraint.Contains("indicator", StringComparison.Ordinal))
        {
            return BalanceInsertOutcome.DuplicateIndicator;
        }
        catch (DbException exception) when (dialect.IsForeignKeyViolation(exception))
        {
            return BalanceInsertOutcome.UnknownLedgerOrIdentity;
        }
    }

    private Task<int> InsertBalanceRowAsync(DbCommand command, Balance balance, CancellationToken cancellationToken)
    {
        command.CommandText = "INSERT INTO balances (balance_id, ledger_id, currency, indicator, identity_id, " +
            "created_at, meta_data, track_fund_lineage, allocation_strategy, version) " +
            "VALUES (@id, @ledger, @currency, @indicator, @identity, @created, @meta, @lineage, @strategy, @version)";
        SqlDialect.Add(command, "id", balance.BalanceId);
        SqlDialect.Add(command, "ledger", balance.LedgerId);
        SqlDialect.Add(command, "currency", balance.Currency);
        SqlDialect.Add(command, "indicator", balance.Indicator);
        SqlDialect.Add(command, "identity", balance.IdentityId);
        dialect.AddTime(command, "created", balance.CreatedAt);
        dialect.AddJson(command, "meta", balance.MetaDataJson);
        SqlDialect.Add(command, "lineage", balance.TrackFundLineage);
        SqlDialect.Add(command, "strategy", balance.AllocationStrategy);
        SqlDialect.Add(command, "version", balance.Version);
        return command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<Balance?> GetBalanceAsync(string balanceId, CancellationToken cancellationToken)
    {
        var balances = await QueryAsync($"SELECT {BalanceColumns} FROM balances WHERE balance_id = @id",
            command => SqlDialect.Add(command, "id", balanceId), ReadBalance, cancellationToken);
        return balances.Count > 0 ? balances[0] : null;
    }

    /// <remarks>
    /// Prepared (<see cref="LookupAsync"/>): <c>GET /balances/{id}</c> asks it for every batch of reads, and
    /// PostgreSQL planned it on every call, 97 of the 223 µs a call took at 5,000 reads a second.
    /// </remarks>
    public async Task<Dictionary<string, Balance>> GetBalancesAsync(IReadOnlyCollection<string> balanceIds,
        CancellationToken cancellationToken)
    {
        if (balanceIds.Count == 0)
        {
            return new Dictionary<string, Balance>(StringComparer.Ordinal);
        }
        var balances = await LookupAsync(command =>
        {
            var membership = dialect.AddInList(command, "ids", balanceIds);
            command.CommandText = $"SELECT {BalanceColumns} FROM balances WHERE balance_id {membership}";
        }, ReadBalance, cancellationToken);
        return balances.ToDictionary(balance => balance.BalanceId, StringComparer.Ordinal);
    }

    public async Task<Balance?> GetBalanceByIndicatorAsync(string indicator, string currency,
        CancellationToken cancellationToken)
    {
        var balances = await QueryAsync(
            $"SELECT {BalanceColumns} FROM balances WHERE indicator = @indicator AND currency = @currency",
            command =>
            {
                SqlDialect.Add(command, "indicator", indicator);
                SqlDialect.Add(command, "currency", currency);
            }, ReadBalance, cancellationToken);
        return balances.Count > 0 ? balances[0] : null;
    }

    public Task<IReadOnlyList<Balance>> ListBalancesAsync(int limit, int offset, CancellationToken cancellationToken) =>
        QueryAsync($"SELECT {BalanceColumns} FROM balances ORDER BY created_at DESC, balance_id " +
            "LIMIT @limit OFFSET @offset", command => AddPage(command, limit, offset), ReadBalance, cancellationToken);

    public async Task<string> EnsureIndicatorBalanceAsync(string indicator, string currency, string newBalanceId,
        DateTime now, CancellationToken cancellationToken)
    {
        await using var connection = await dialect.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO balances (balance_id, ledger_id, currency, indicator, created_at, meta_data) " +
            "VALUES (@id, @ledger, @currency, @indicator, @created, @meta) ON CONFLICT (indicator, currency) DO NOTHING;" +
            "SELECT balance_id FROM balances WHERE indicator = @indicator AND currency = @currency";
        SqlDialect.Add(command, "id", newBalanceId);
        SqlDialect.Add(command, "ledger", Ledger.GeneralLedgerId);
        SqlDialect.Add(command, "currency", currency);
        SqlDialect.Add(command, "indicator", indicator);
        dialect.AddTime(command, "created", now);
        dialect.AddJson(command, "meta", null);
        var balanceId = await command.ExecuteScalarAsync(cancellationToken) as string;
        Core.Invariant.Assert(balanceId is not null);
        return balanceId!;
    }

    public async Task<Identity?> GetIdentityAsync(string identityId, CancellationToken cancellationToken)
    {
        var identities = await QueryAsync($"SELECT {IdentityColumns} FROM identities WHERE identity_id = @id",
            command => SqlDialect.Add(command, "id", identityId), ReadIdentity, cancellationToken);
        return identities.Count > 0 ? identities[0] : null;
    }

    /// <summary>
    /// The QUEUED rows of balance <c>@id</c> still waiting: a row is waiting while its own queue entry, or its atomic
    /// group's single entry, is there. A waiting row is never older than the oldest entry of a row not scheduled (an
    /// entry carries its row's seq; a group's is its first leg's), so each side reads the balance's rows from that seq
    /// on (migration 0007; SQLite's rowid), not the balance's history. A scheduled entry can wait for months and holds
    /// no QUEUED row, so the bound passes over it (migration 0008). Each row then probes the queue by index (its id;
    /// <c>group_id</c>, migration 0006): a join let the planner read the whole queue, dead rows of a drained backlog
    /// included (~30 ms a read after a 100,000-transfer burst), and so did a hashed subplan, which PostgreSQL picks for
    /// the id probe from statistics that saw the queue small (<c>OFFSET 0</c> keeps the probe a lookup; the prepared
    /// plan outlives the statistics). Scheduled rows are not counted, as in Blnk.
    /// </summary>
    internal const string QueuedAmountsSql =
        $"{QueuedRowsSql} t.source = @id {WaitingSql} UNION ALL " +
        $"{QueuedRowsSql} t.destination = @id AND t.source <> @id {WaitingSql}";

    private const string QueuedRowsSql =
        "SELECT t.source, t.destination, t.precise_amount FROM transactions t WHERE t.status = 'QUEUED' AND";

    private const string WaitingSql =
        "AND t.seq >= (SELECT min(oldest.seq) FROM transaction_queue oldest WHERE NOT oldest.scheduled) " +
        "AND (EXISTS (SELECT 1 FROM transaction_queue q WHERE q.transaction_id = t.transaction_id LIMIT 1 OFFSET 0) " +
        "OR t.parent_transaction <> '' AND EXISTS (SELECT 1 FROM transaction_queue q " +
        "WHERE q.group_id = t.parent_transaction AND q.transaction_id <> t.transaction_id))";

    public async Task<QueuedAmounts> GetQueuedAmountsAsync(string balanceId, CancellationToken cancellationToken)
    {
        var rows = await LookupAsync(command =>
            {
                command.CommandText = QueuedAmountsSql;
                SqlDialect.Add(command, "id", balanceId);
            },
            reader => (Source: reader.GetString(0), Destination: reader.GetString(1),
                Amount: dialect.ReadAmount(reader, 2)),
            cancellationToken);
        var debit = BigInteger.Zero;
        var credit = BigInteger.Zero;
        foreach (var row in rows)
        {
            if (row.Source == balanceId)
            {
                debit += row.Amount;
            }
            else
            {
                credit += row.Amount;
            }
        }
        return new QueuedAmounts(debit, credit);
    }

    public async Task<TransactionRecord?> GetTransactionAsync(string transactionId,
        CancellationToken cancellationToken)
    {
        var rows = await QueryAsync($"SELECT {TransactionColumns} FROM transactions WHERE transaction_id = @id",
            command => SqlDialect.Add(command, "id", transactionId), ReadTransaction, cancellationToken);
        return rows.Count > 0 ? rows[0] : null;
    }

    public async Task<TransactionRecord?> GetTransactionByReferenceAsync(string reference,
        CancellationToken cancellationToken)
    {
        var rows = await QueryAsync($"SELECT {TransactionColumns} FROM transactions WHERE reference = @reference",
            command => SqlDialect.Add(command, "reference", reference), ReadTransaction, cancellationToken);
        return rows.Count > 0 ? rows[0] : null;
    }

    public Task<IReadOnlyList<TransactionRecord>> ListTransactionsAsync(int limit, int offset,
        CancellationToken cancellationToken) =>
        QueryAsync($"SELECT {TransactionColumns} FROM transactions ORDER BY seq DESC LIMIT @limit OFFSET @offset",
            command => AddPage(command, limit, offset), ReadTransaction, cancellationToken);

    public async Task<IReadOnlyList<ClaimedQueueEntry>> ClaimQueuedAsync(int max, DateTime now, DateTime leaseUntil,
        CancellationToken cancellationToken)
    {
        if (!await AnyDueAsync(DueSql("transaction_queue", "1 = 1"), now, cancellationToken))
        {
            return [];
        }
        await using var connection = await dialect.OpenAsync(cancellationToken);
        await using var dbTransaction = await dialect.BeginWriteAsync(connection, cancellationToken);
        var claimed = new List<(string EntryId, long Seq, string? GroupId)>();
        await using (var claim = connection.CreateCommand())
        {
            claim.Transaction = dbTransaction;
            claim.CommandText = dialect.ClaimDueSql("transaction_queue", "transaction_id", "seq",
                "transaction_id, seq, group_id");
            await AddClaimParametersAsync(claim, max, now, leaseUntil, cancellationToken);
            await using var reader = await claim.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                claimed.Add((reader.GetString(0), reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetString(2)));
            }
        }
        // Single entries are loaded in one query; an atomic group's legs by their shared parent.
        var singles = await LoadByIdsAsync(connection, dbTransaction,
            [.. claimed.Where(entry => entry.GroupId is null).Select(entry => entry.EntryId)], cancellationToken);
        var entries = new List<ClaimedQueueEntry>(claimed.Count);
        foreach (var (entryId, _, groupId) in claimed.OrderBy(entry => entry.Seq))
        {
            var rows = groupId is null
                ? singles.TryGetValue(entryId, out var row) ? [row] : []
                : await QueryInAsync(connection, dbTransaction,
                    $"SELECT {TransactionColumns} FROM transactions WHERE parent_transaction = @key " +
                    $"AND status IN ('{TransactionStatus.Queued}', '{TransactionStatus.Scheduled}') ORDER BY seq",
                    groupId, cancellationToken);
            entries.Add(new ClaimedQueueEntry(entryId, rows));
        }
        await dbTransaction.CommitAsync(cancellationToken);
        return entries;
    }

    private async Task<Dictionary<string, TransactionRecord>> LoadByIdsAsync(DbConnection connection,
        DbTransaction? dbTransaction, IReadOnlyCollection<string> transactionIds, CancellationToken cancellationToken)
    {
        var rows = new Dictionary<string, TransactionRecord>(StringComparer.Ordinal);
        if (transactionIds.Count == 0)
        {
            return rows;
        }
        await using var command = connection.CreateCommand();
        command.Transaction = dbTransaction;
        var membership = dialect.AddInList(command, "ids", transactionIds);
        command.CommandText = TransactionsByIdSql(membership);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var row = ReadTransaction(reader);
            rows[row.TransactionId] = row;
        }
        return rows;
    }

    private async Task<List<TransactionRecord>> QueryInAsync(DbConnection connection, DbTransaction dbTransaction,
        string sql, string key, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = dbTransaction;
        command.CommandText = sql;
        SqlDialect.Add(command, "key", key);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<TransactionRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(ReadTransaction(reader));
        }
        return rows;
    }

    public virtual async Task<IWriteBatch> BeginWriteBatchAsync(CancellationToken cancellationToken) =>
        await BeginBatchAsync(await dialect.OpenWriterAsync(cancellationToken), cancellationToken);

    /// <summary>A write batch for a request rather than the writer: on the request pool, not the writer's.</summary>
    internal async Task<SqlWriteBatch> BeginRequestBatchAsync(CancellationToken cancellationToken) =>
        await BeginBatchAsync(await dialect.OpenAsync(cancellationToken), cancellationToken);

    private async Task<SqlWriteBatch> BeginBatchAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        try
        {
            var pipeline = await StatementPipeline.StartAsync(connection,
                () => dialect.BeginWriteAsync(connection, cancellationToken));
            return new SqlWriteBatch(this, connection, pipeline);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public bool IsRetryableConflict(Exception exception) => dialect.IsRetryableConflict(exception);

    public bool IsAtCapacity(Exception exception) => dialect.IsAtCapacity(exception);

    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return dialect.DisposeAsync();
    }

    internal Balance ReadBalance(DbDataReader reader) => new()
    {
        BalanceId = reader.GetString(0),
        LedgerId = reader.GetString(1),
        Currency = reader.GetString(2),
        Indicator = reader.IsDBNull(3) ? null : reader.GetString(3),
        IdentityId = reader.IsDBNull(4) ? null : reader.GetString(4),
        CreatedAt = dialect.ReadTime(reader, 5)!.Value,
        MetaDataJson = reader.IsDBNull(6) ? null : reader.GetString(6),
        TrackFundLineage = reader.GetBoolean(7),
        AllocationStrategy = reader.GetString(8),
        Version = reader.GetInt64(9),
        Amounts = new BalanceAmounts(dialect.ReadAmount(reader, 10), dialect.ReadAmount(reader, 11),
            dialect.ReadAmount(reader, 12), dialect.ReadAmount(reader, 13)),
    };

    internal TransactionRecord ReadTransaction(DbDataReader reader) => new()
    {
        TransactionId = reader.GetString(0),
        ParentTransaction = reader.GetString(1),
        Source = reader.GetString(2),
        Destination = reader.GetString(3),
        Reference = reader.GetString(4),
        Currency = reader.GetString(5),
        Description = reader.GetString(6),
        Status = reader.GetString(7),
        Hash = reader.GetString(8),
        PreciseAmount = dialect.ReadAmount(reader, 9),
        Precision = dialect.ReadAmount(reader, 10),
        OverdraftLimit = reader.GetDouble(11),
        AllowOverdraft = reader.GetBoolean(12),
        Inflight = reader.GetBoolean(13),
        SkipQueue = reader.GetBoolean(14),
        Atomic = reader.GetBoolean(15),
        CreatedAt = dialect.ReadTime(reader, 16)!.Value,
        EffectiveDate = dialect.ReadTime(reader, 17),
        ScheduledFor = dialect.ReadTime(reader, 18),
        InflightExpiryDate = dialect.ReadTime(reader, 19),
        InflightCommitDate = dialect.ReadTime(reader, 20),
        MetaDataJson = reader.IsDBNull(21) ? null : reader.GetString(21),
    };

    internal void AddTransactionParameters(DbCommand command, TransactionRecord row)
    {
        SqlDialect.Add(command, "id", row.TransactionId);
        SqlDialect.Add(command, "parent", row.ParentTransaction);
        SqlDialect.Add(command, "source", row.Source);
        SqlDialect.Add(command, "destination", row.Destination);
        SqlDialect.Add(command, "reference", row.Reference);
        SqlDialect.Add(command, "currency", row.Currency);
        SqlDialect.Add(command, "description", row.Description);
        SqlDialect.Add(command, "status", row.Status);
        SqlDialect.Add(command, "hash", row.Hash);
        dialect.AddAmount(command, "amount", row.PreciseAmount);
        dialect.AddAmount(command, "precision", row.Precision);
        SqlDialect.Add(command, "overdraft", row.OverdraftLimit);
        SqlDialect.Add(command, "allow", row.AllowOverdraft);
        SqlDialect.Add(command, "inflight", row.Inflight);
        SqlDialect.Add(command, "skip", row.SkipQueue);
        SqlDialect.Add(command, "atomic", row.Atomic);
        dialect.AddTime(command, "created", row.CreatedAt);
        dialect.AddTime(command, "effective", row.EffectiveDate);
        dialect.AddTime(command, "scheduled", row.ScheduledFor);
        dialect.AddTime(command, "expiry", row.InflightExpiryDate);
        dialect.AddTime(command, "commit", row.InflightCommitDate);
        dialect.AddJson(command, "meta", row.MetaDataJson);
    }

    internal const string InsertTransactionSql = $"INSERT INTO transactions ({TransactionColumns}) VALUES (@id, " +
        "@parent, @source, @destination, @reference, @currency, @description, @status, @hash, @amount, @precision, " +
        "@overdraft, @allow, @inflight, @skip, @atomic, @created, @effective, @scheduled, @expiry, @commit, @meta)";

    private Identity ReadIdentity(DbDataReader reader) => new()
    {
        IdentityId = reader.GetString(0),
        IdentityType = reader.GetString(1),
        OrganizationName = reader.GetString(2),
        Category = reader.GetString(3),
        FirstName = reader.GetString(4),
        LastName = reader.GetString(5),
        OtherNames = reader.GetString(6),
        Gender = reader.GetString(7),
        EmailAddress = reader.GetString(8),
        PhoneNumber = reader.GetString(9),
        Nationality = reader.GetString(10),
        Street = reader.GetString(11),
        Country = reader.GetString(12),
        State = reader.GetString(13),
        PostCode = reader.GetString(14),
        City = reader.GetString(15),
        Dob = dialect.ReadTime(reader, 16),
        CreatedAt = dialect.ReadTime(reader, 17)!.Value,
        MetaDataJson = reader.IsDBNull(18) ? null : reader.GetString(18),
    };

    private Ledger ReadLedger(DbDataReader reader) => new(reader.GetString(0), reader.GetString(1),
        dialect.ReadTime(reader, 2)!.Value, reader.IsDBNull(3) ? null : reader.GetString(3));

    private static void AddPage(DbCommand command, int limit, int offset)
    {
        SqlDialect.Add(command, "limit", limit);
        SqlDialect.Add(command, "offset", offset);
    }

    private async Task<int> ExecuteAsync(string sql, Action<DbCommand> bind, CancellationToken cancellationToken)
    {
        await using var connection = await dialect.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        bind(command);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// A read asked on every request of its kind, prepared on a lookup connection: the statement is parsed (and on
    /// PostgreSQL's lookup sessions, planned) once per connection, not per call.
    /// </summary>
    private async Task<List<T>> LookupAsync<T>(Action<DbCommand> bind, Func<DbDataReader, T> read,
        CancellationToken cancellationToken)
    {
        await using var connection = await dialect.OpenLookupAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        bind(command);
        await command.PrepareAsync(cancellationToken);
        return await ReadAllAsync(command, read, cancellationToken);
    }

    private async Task<IReadOnlyList<T>> QueryAsync<T>(string sql, Action<DbCommand> bind, Func<DbDataReader, T> read,
        CancellationToken cancellationToken)
    {
        await using var connection = await dialect.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        bind(command);
        return await ReadAllAsync(command, read, cancellationToken);
    }

    /// <summary>Every row of <paramref name="command"/>, each read by <paramref name="read"/>.</summary>
    private static async Task<List<T>> ReadAllAsync<T>(DbCommand command, Func<DbDataReader, T> read,
        CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(read(reader));
        }
        return rows;
    }
}
