using System.Data.Common;
using System.Numerics;

namespace Blnk.Storage;

/// <summary>
/// What differs between the two databases: how values are written and read, how a write
/// transaction starts, and the few statements whose SQL is not shared.
/// </summary>
public abstract class SqlDialect : IAsyncDisposable
{
    public abstract string Name { get; }

    public abstract ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>A connection for the writer's batches, whose every statement is a lookup or change by key.</summary>
    public virtual ValueTask<DbConnection> OpenWriterAsync(CancellationToken cancellationToken) =>
        OpenAsync(cancellationToken);

    /// <summary>A connection for a prepared lookup by key, asked on every request of its kind.</summary>
    public virtual ValueTask<DbConnection> OpenLookupAsync(CancellationToken cancellationToken) =>
        OpenAsync(cancellationToken);

    /// <summary>Starts the write transaction of a batch (SQLite: BEGIN IMMEDIATE).</summary>
    public abstract ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection,
        CancellationToken cancellationToken);

    /// <summary>
    /// Starts the write transaction of a claim (<see cref="ClaimDueSql(string, string, string, string)"/>,
    /// <see cref="ClaimOrderedSql"/>).
    /// </summary>
    public virtual ValueTask<DbTransaction> BeginClaimAsync(DbConnection connection,
        CancellationToken cancellationToken) => BeginWriteAsync(connection, cancellationToken);

    /// <summary>Starts a read-only transaction: a consistent view that never blocks writers.</summary>
    public virtual async ValueTask<DbTransaction> BeginReadAsync(DbConnection connection,
        CancellationToken cancellationToken) => await connection.BeginTransactionAsync(cancellationToken);

    public abstract void AddAmount(DbCommand command, string name, BigInteger value);

    public abstract BigInteger ReadAmount(DbDataReader reader, int ordinal);

    public abstract void AddTime(DbCommand command, string name, DateTime? value);

    public abstract DateTime? ReadTime(DbDataReader reader, int ordinal);

    public abstract void AddJson(DbCommand command, string name, string? value);

    /// <summary>Binds a list of strings and returns the SQL that tests membership ("= ANY(@p)" or "IN (…)").</summary>
    public abstract string AddInList(DbCommand command, string name, IReadOnlyCollection<string> values);

    /// <summary>
    /// Binds balance ids and hold (transaction) ids and returns the condition on <c>balance_id</c> that names those
    /// balances and every hold's source and destination, so one statement finds them all.
    /// </summary>
    public abstract string AddBalancesAndHoldBalances(DbCommand command, IReadOnlyCollection<string> balanceIds,
        IReadOnlyCollection<string> holdIds);

    /// <summary>
    /// Membership in what <paramref name="subquery"/> returns, written so the sub-select runs first and once
    /// (PostgreSQL: as an array), never as a join whose order a planner could choose.
    /// </summary>
    public virtual string InSubquery(string subquery) => $"IN ({subquery})";

    /// <summary>Appended to the balance load of a batch: row locks on PostgreSQL, nothing on SQLite.</summary>
    public abstract string LockRowsClause { get; }

    /// <summary>
    /// The key this store's leases are taken under (<c>lease_owner</c>): random, one per store, so one per process.
    /// </summary>
    public long LeaseOwner { get; } = Random.Shared.NextInt64(1, long.MaxValue);

    /// <summary>
    /// Whether the lease of work row <paramref name="alias"/> is free at <c>@now</c> for <c>@owner</c>: it ran out, or
    /// another process took it and that process is gone. After a crash the restarted server (or another one) takes
    /// the work back at once instead of when the lease runs out. Exactly-once does not rest on leases (a work row is
    /// removed or marked in the same transaction as its outcome): they keep live processes from doing work twice.
    /// </summary>
    public abstract string LeaseFree(string alias);

    /// <summary>
    /// <see cref="LeaseFree"/> for a statement that only reads (is anything due?), with <c>@now</c> and
    /// <see cref="AddLeaseOwner"/>'s <c>@owner</c> bound: a dialect may find the live owners inside the statement,
    /// only for the rows that need them.
    /// </summary>
    public virtual string LeaseFreeToRead(string alias) => LeaseFree(alias);

    /// <summary>
    /// Makes sure other processes can see that this one is alive and holds its leases (PostgreSQL; one SQLite file
    /// belongs to one process, so there every other owner is gone). Called before each claim.
    /// </summary>
    public virtual Task HoldLeasesAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Releases what the dialect holds for the store's lifetime (PostgreSQL: the lease lock's session).</summary>
    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    /// <summary>Binds what <see cref="LeaseFree"/> reads besides <c>@now</c>: this store's <c>@owner</c>.</summary>
    public virtual Task AddLeaseOwnersAsync(DbCommand command, CancellationToken cancellationToken)
    {
        AddLeaseOwner(command);
        return Task.CompletedTask;
    }

    /// <summary>Binds this store's <c>@owner</c>.</summary>
    public void AddLeaseOwner(DbCommand command) => Add(command, "owner", LeaseOwner);

    /// <summary>
    /// The statement that leases up to <c>@max</c> due rows of a work table (queue entries, inflight actions)
    /// until <c>@lease</c> for <c>@owner</c>, oldest first, skipping rows a live process holds, and returns
    /// <paramref name="columns"/>.
    /// </summary>
    public abstract string ClaimDueSql(string table, string key, string orderBy, string columns);

    /// <summary>
    /// Like <c>ClaimDueSql</c> for the rows <paramref name="order"/> says are pending, but a row is only due when no
    /// earlier pending row of one of its entities exists: per-entity order.
    /// </summary>
    /// <remarks>
    /// Candidates are taken in the order of the table's pending index (<c>available_at</c>, then
    /// <paramref name="key"/>), so both databases walk that partial index and stop at the limit. Ordered by the
    /// key alone, both walked the primary key through the table's processed history: 26 ms a claim on PostgreSQL
    /// and 16 ms on SQLite at 300,000 processed rows, growing with the history (docs/performance.md). Per-entity
    /// order does not depend on this order: <see cref="NoEarlierPending"/> holds a row back whatever the order its
    /// candidates are looked at in.
    /// </remarks>
    public string ClaimOrderedSql(string table, string key, EntityOrder order, string columns) =>
        ClaimDueSql(table, key, PendingIndexOrder(key), columns, NextInOrder(table, key, order));

    /// <summary>The order of a table's partial index of pending rows (<c>available_at</c>, then the key).</summary>
    public static string PendingIndexOrder(string key) => $"o.available_at, o.{key}";

    /// <summary>The candidate <c>o</c> is pending and next for each of its entities.</summary>
    public static string NextInOrder(string table, string key, EntityOrder order) =>
        $"{order.Pending} AND {NoEarlierPending(table, key, order)}";

    /// <summary>
    /// No row <c>p</c> of <paramref name="table"/> before the candidate <c>o</c> (by <paramref name="key"/>) is
    /// pending with one of <c>o</c>'s entities (<paramref name="order"/>): one <c>NOT EXISTS</c> per way to share an
    /// entity, each a seek in the partial index on its column. Joined by <c>OR</c> in one <c>NOT EXISTS</c>, SQLite
    /// walked every earlier row, processed or not: 113 ms a claim with 1,500 rows pending behind 2,000 processed
    /// ones, where lineage drained at 19 rows a second; and PostgreSQL probed four bitmap indexes per candidate
    /// (docs/performance.md).
    /// </summary>
    public static string NoEarlierPending(string table, string key, EntityOrder order) =>
        string.Join(" AND ", order.SameEntity.Select(sameEntity => $"NOT EXISTS (SELECT 1 FROM {table} p " +
            $"WHERE p.{key} < o.{key} AND {order.EarlierPending} AND {sameEntity})"));

    /// <summary>The claim statement with an extra filter on candidate rows (aliased <c>o</c>).</summary>
    protected abstract string ClaimDueSql(string table, string key, string orderBy, string columns, string filter);

    /// <summary>Serialises migrations between processes that start at once; disposing releases it.</summary>
    public abstract Task<IAsyncDisposable> LockForMigrationAsync(DbConnection connection,
        CancellationToken cancellationToken);

    /// <summary>Creates what migrations need before the first script: the version table (and schema).</summary>
    public virtual string PrepareMigrationsSql =>
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)";

    public abstract bool IsUniqueViolation(DbException exception, out string constraint);

    public abstract bool IsForeignKeyViolation(DbException exception);

    public abstract bool IsRetryableConflict(Exception exception);

    /// <summary>See <see cref="ILedgerStore.IsAtCapacity"/>.</summary>
    public abstract bool IsAtCapacity(Exception exception);

    /// <summary>Runs one statement once per item inside the batch's database transaction.</summary>
    public static async Task ExecuteManyAsync<T>(DbConnection connection, DbTransaction dbTransaction, string sql,
        IReadOnlyCollection<T> items, Action<DbCommand, T> bind, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = dbTransaction;
        command.CommandText = sql;
        foreach (var item in items)
        {
            command.Parameters.Clear();
            bind(command, item);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>
    /// A set-based write of a batch's rows, when the dialect has one (PostgreSQL: one statement over
    /// arrays); null means write them one statement each.
    /// </summary>
    public virtual IBulkWriter? BulkWriter => null;

    /// <summary>
    /// Adds parameter <c>@<paramref name="name"/></c>. The name carries its <c>@</c> as the statement does:
    /// Microsoft.Data.Sqlite first looks a bare name up as written, fails, and searches again with each prefix,
    /// every search a linear scan of the statement's names (~8 % of the server's CPU at SQLite W2 before).
    /// </summary>
    public static void Add(DbCommand command, string name, object? value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = "@" + name;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
    }
}
