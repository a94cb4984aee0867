using System.Data;
using System.Data.Common;
using System.Diagnostics;
using System.Numerics;
using Npgsql;
using NpgsqlTypes;

namespace Blnk.Storage.Postgres;

/// <summary>
/// PostgreSQL, for production and for several server processes on one database: balances of a
/// batch are row-locked in id order, queue entries are claimed with <c>FOR UPDATE SKIP LOCKED</c>.
/// Tables live in the schema <c>blnk</c>.
/// </summary>
public sealed class PostgresDialect(NpgsqlDataSource dataSource, NpgsqlDataSource writerDataSource,
    NpgsqlDataSource lookupDataSource) : SqlDialect
{
    public const string SchemaName = "blnk";

    /// <summary>Any constant: the key of the advisory lock that serialises migrations across processes.</summary>
    private const long MigrationLockKey = 0x626c6e6b;

    /// <summary>A bigint advisory lock's key, as <c>pg_locks</c> (row <c>l</c>) shows it in two halves.</summary>
    private const string AdvisoryKey = "((l.classid::bigint << 32) | l.objid::bigint)";

    /// <summary>The keys of the lease locks held now, as one array.</summary>
    private const string LiveOwners = $"ARRAY(SELECT {AdvisoryKey} FROM pg_locks l " +
        "WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted)";

    private static readonly TimeSpan LeaseCheckInterval = TimeSpan.FromSeconds(5);
    private readonly SemaphoreSlim _leaseHolder = new(1, 1);
    private NpgsqlConnection? _leaseConnection;
    private long _leasesCheckedAt;

    public override string Name => "postgres";

    public NpgsqlDataSource DataSource => dataSource;

    public override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await dataSource.OpenConnectionAsync(cancellationToken);

    public override async ValueTask<DbConnection> OpenWriterAsync(CancellationToken cancellationToken) =>
        await writerDataSource.OpenConnectionAsync(cancellationToken);

    public override async ValueTask<DbConnection> OpenLookupAsync(CancellationToken cancellationToken) =>
        await lookupDataSource.OpenConnectionAsync(cancellationToken);

    public override async ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection,
        CancellationToken cancellationToken) =>
        await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken);

    /// <summary>
    /// Plans the claim with nested loops over index probes only, as the writer's sessions are (no materialised
    /// inner side, no hash or merge join): checking each candidate by an index probe costs the same whatever
    /// PostgreSQL's statistics say, and a queue's statistics lag its bursts. With default settings, one identity's
    /// 2,000 lineage rows, posted in a second, drained in 68 s: the planner, expecting 2 pending rows where 1,879
    /// were, compared every candidate with every pending row (768 ms a claim). With these, 15 s (docs/performance.md).
    /// </summary>
    public override async ValueTask<DbTransaction> BeginClaimAsync(DbConnection connection,
        CancellationToken cancellationToken)
    {
        var transaction = await BeginWriteAsync(connection, cancellationToken);
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SET LOCAL enable_material = off; SET LOCAL enable_hashjoin = off; " +
            "SET LOCAL enable_mergejoin = off";
        await command.ExecuteNonQueryAsync(cancellationToken);
        return transaction;
    }

    public override void AddAmount(DbCommand command, string name, BigInteger value) =>
        command.Parameters.Add(new NpgsqlParameter(name, NpgsqlDbType.Numeric) { Value = value });

    public override BigInteger ReadAmount(DbDataReader reader, int ordinal) =>
        reader.GetFieldValue<BigInteger>(ordinal);

    public override void AddTime(DbCommand command, string name, DateTime? value) =>
        command.Parameters.Add(new NpgsqlParameter(name, NpgsqlDbType.TimestampTz)
        {
            Value = value is null ? DBNull.Value : DateTime.SpecifyKind(value.Value.ToUniversalTime(), DateTimeKind.Utc),
        });

    public override DateTime? ReadTime(DbDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : DateTime.SpecifyKind(reader.GetFieldValue<DateTime>(ordinal), DateTimeKind.Utc);

    public override void AddJson(DbCommand command, string name, string? value) =>
        command.Parameters.Add(new NpgsqlParameter(name, NpgsqlDbType.Jsonb) { Value = (object?)value ?? DBNull.Value });

    public override string AddInList(DbCommand command, string name, IReadOnlyCollection<string> values)
    {
        command.Parameters.Add(new NpgsqlParameter<string[]>(name, [.. values]));
        return $"= ANY(@{name})";
    }

    public override string InSubquery(string subquery) => $"= ANY(ARRAY({subquery}))";

    // An array built by a sub-select is computed once, before the index lookups by its elements (a sub-select OR-ed
    // into the condition would instead be tested against every row of balances).
    public override string AddBalancesAndHoldBalances(DbCommand command, IReadOnlyCollection<string> balanceIds,
        IReadOnlyCollection<string> holdIds)
    {
        command.Parameters.Add(new NpgsqlParameter<string[]>("ids", [.. balanceIds]));
        command.Parameters.Add(new NpgsqlParameter<string[]>("holds", [.. holdIds]));
        return "balance_id = ANY(@ids || ARRAY(SELECT unnest(ARRAY[h.source, h.destination]) FROM transactions h " +
            "WHERE h.transaction_id = ANY(@holds)))";
    }

    // NO KEY UPDATE excludes every other writer of the row but not the key-share locks foreign-key checks take:
    // another process inserting a row that references a locked balance (a snapshot, a monitor) does not wait for
    // this batch.
    public override string LockRowsClause => "FOR NO KEY UPDATE";

    public override string ClaimDueSql(string table, string key, string orderBy, string columns) =>
        ClaimDueSql(table, key, orderBy, columns, "TRUE");

    /// <summary>
    /// Another owner is alive while it holds the session advisory lock on its key (<see cref="HoldLeasesAsync"/>),
    /// which PostgreSQL drops when that process or its connection dies; <c>@live</c> are the keys held just before
    /// the statement (<see cref="AddLeaseOwnersAsync"/>). This process's own leases only run out.
    /// </summary>
    public override string LeaseFree(string alias) =>
        $"({alias}.lease_until <= @now OR {alias}.lease_owner <> @owner AND {alias}.lease_owner <> ALL(@live))";

    /// <summary>
    /// Reads <c>pg_locks</c> inside the statement, as a subquery PostgreSQL runs only once a row leased by another
    /// owner is looked at (an init plan, evaluated when first needed). Copying the lock table cost 1.2–1.6 ms of
    /// PostgreSQL's time per statement, and the idle pollers ask about 20 times a second.
    /// </summary>
    public override string LeaseFreeToRead(string alias) =>
        $"({alias}.lease_until <= @now OR {alias}.lease_owner <> @owner " +
        $"AND {alias}.lease_owner <> ALL({LiveOwners}))";

    /// <summary>
    /// Also binds <c>@live</c>, read from <c>pg_locks</c> in a statement of its own on the command's connection, so
    /// that the work statement's plan stays that of a plain filter.
    /// </summary>
    public override async Task AddLeaseOwnersAsync(DbCommand command, CancellationToken cancellationToken)
    {
        await base.AddLeaseOwnersAsync(command, cancellationToken);
        await using var live = command.Connection!.CreateCommand();
        live.Transaction = command.Transaction;
        live.CommandText = $"SELECT {LiveOwners}";
        var keys = (long[])(await live.ExecuteScalarAsync(cancellationToken))!;
        command.Parameters.Add(new NpgsqlParameter<long[]>("live", keys));
    }

    /// <summary>
    /// Holds the session advisory lock on <see cref="SqlDialect.LeaseOwner"/> on a connection of its own for the
    /// store's lifetime. Checked at most every few seconds (a claim waits for the check): a lost connection is
    /// replaced and the lock taken again.
    /// </summary>
    public override async Task HoldLeasesAsync(CancellationToken cancellationToken)
    {
        if (Stopwatch.GetElapsedTime(Interlocked.Read(ref _leasesCheckedAt)) < LeaseCheckInterval)
        {
            return;
        }
        await _leaseHolder.WaitAsync(cancellationToken);
        try
        {
            if (Stopwatch.GetElapsedTime(_leasesCheckedAt) >= LeaseCheckInterval)
            {
                await TakeLeaseLockAsync(cancellationToken);
                Interlocked.Exchange(ref _leasesCheckedAt, Stopwatch.GetTimestamp());
            }
        }
        finally
        {
            _leaseHolder.Release();
        }
    }

    /// <summary>Takes the lease lock unless this session already holds it; a broken connection is replaced.</summary>
    private async Task TakeLeaseLockAsync(CancellationToken cancellationToken)
    {
        var takeUnlessHeld = $"SELECT pg_try_advisory_lock({LeaseOwner}) WHERE NOT EXISTS (SELECT 1 FROM pg_locks l " +
            "WHERE l.pid = pg_backend_pid() AND l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted " +
            $"AND {AdvisoryKey} = {LeaseOwner})";
        if (_leaseConnection is not null)
        {
            try
            {
                await ExecuteAsync(_leaseConnection, takeUnlessHeld, cancellationToken);
                return;
            }
            catch (NpgsqlException)
            {
                // Lost (a restart of PostgreSQL, the network): until a new session holds the lock (the old one may
                // still), this process's leases may look free to others, which costs repeated work only.
                await _leaseConnection.DisposeAsync();
                _leaseConnection = null;
            }
        }
        _leaseConnection = await dataSource.OpenConnectionAsync(cancellationToken);
        await ExecuteAsync(_leaseConnection, takeUnlessHeld, cancellationToken);
    }

    /// <summary>
    /// Releases the lease lock (its session would release it when it ends, but a pooled session outlives this call):
    /// this process's leases are free from then on.
    /// </summary>
    public override async ValueTask DisposeAsync()
    {
        if (_leaseConnection is not null)
        {
            try
            {
                await ExecuteAsync(_leaseConnection, "SELECT pg_advisory_unlock_all()", CancellationToken.None);
            }
            catch (NpgsqlException)
            {
                // The session is gone, and its lock with it.
            }
            await _leaseConnection.DisposeAsync();
        }
        _leaseHolder.Dispose();
        await base.DisposeAsync();
    }

    protected override string ClaimDueSql(string table, string key, string orderBy, string columns, string filter) =>
        $"UPDATE {table} q SET lease_until = @lease, lease_owner = @owner FROM (SELECT o.{key} FROM {table} o " +
        $"WHERE o.available_at <= @now AND {LeaseFree("o")} AND {filter} ORDER BY {orderBy} LIMIT @max " +
        "FOR UPDATE SKIP LOCKED) c " +
        $"WHERE q.{key} = c.{key} RETURNING " + string.Join(", ", columns.Split(", ").Select(column => "q." + column));

    public override async Task<IAsyncDisposable> LockForMigrationAsync(DbConnection connection,
        CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, $"SELECT pg_advisory_lock({MigrationLockKey})", cancellationToken);
        return new AdvisoryLock(connection);
    }

    public override string PrepareMigrationsSql => $"CREATE SCHEMA IF NOT EXISTS {SchemaName}; " + base.PrepareMigrationsSql;

    private static async Task ExecuteAsync(DbConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private sealed class AdvisoryLock(DbConnection connection) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() =>
            await ExecuteAsync(connection, $"SELECT pg_advisory_unlock({MigrationLockKey})", CancellationToken.None);
    }

    public override IBulkWriter BulkWriter { get; } = new PostgresBulkWriter();

    public override bool IsUniqueViolation(DbException exception, out string constraint)
    {
        constraint = (exception as PostgresException)?.ConstraintName ?? "";
        return exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };
    }

    public override bool IsForeignKeyViolation(DbException exception) =>
        exception is PostgresException { SqlState: PostgresErrorCodes.ForeignKeyViolation };

    public override bool IsRetryableConflict(Exception exception) => exception switch
    {
        PostgresException { SqlState: PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected
            or PostgresErrorCodes.LockNotAvailable } => true,
        PostgresException { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: "transactions_reference_key" }
            => true,
        _ => false,
    };

    // Npgsql reports a pool that had no connection free within its timeout (and a connect that timed out) as an
    // NpgsqlException around a TimeoutException; the server refusing a connection is SQLSTATE 53300.
    public override bool IsAtCapacity(Exception exception) => exception is
        NpgsqlException { InnerException: TimeoutException } or
        PostgresException { SqlState: PostgresErrorCodes.TooManyConnections };
}
