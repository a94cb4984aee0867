using System.Buffers;
using System.Data;
using System.Data.Common;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Blnk.Storage.Sqlite;

/// <summary>
/// The embedded default: one SQLite file in WAL mode with <c>synchronous=FULL</c>, so a commit that
/// returned is on disk. Amounts are canonical decimal strings; times are Unix microseconds.
/// </summary>
/// <remarks>
/// SQLite has one writer at a time; BEGIN IMMEDIATE takes the write lock at the start of a batch, so
/// the batch's reads are already serialised with every other write. One server process per file.
/// </remarks>
public sealed class SqliteDialect : SqlDialect
{
    private const int ConstraintError = 19;
    private const int BusyError = 5;
    private const int LockedError = 6;
    private const int UniqueConstraintError = 2067;
    private const int PrimaryKeyConstraintError = 1555;
    private const int ForeignKeyConstraintError = 787;

    /// <summary>
    /// How long a statement waits for another connection's write lock, inside SQLite (which retries after 1, 2,
    /// 5, … ms). Without it Microsoft.Data.Sqlite retries a busy statement itself after sleeping 150 ms, so a writer
    /// batch that met a queue claim's lock stalled for 150 ms (W6's drain: 4.7–5.2k against 7.1–7.7k per s).
    /// </summary>
    private const int BusyTimeoutMs = 30_000;

    /// <summary>
    /// The WAL's length, in pages, at which a committing connection copies it back into the database file
    /// (SQLite's default is 1,000). Every commit appends each page it changed whole: ~12 pages, 48 KiB, for one
    /// transfer. With the default, one commit in ~85 at one client paid for a checkpoint, and W1's p99 was that
    /// commit. A checkpoint costs about the distinct pages it copies, not the WAL's length, so ten times the length
    /// makes them a tenth as frequent for about the same cost each; the WAL file stays near 40 MiB.
    /// </summary>
    private const int WalCheckpointPages = 10_000;

    private readonly string _connectionString;

    public SqliteDialect(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Pooling = true,
            ForeignKeys = true,
            DefaultTimeout = BusyTimeoutMs / 1000,
        }.ToString();
        using var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL";
        command.ExecuteNonQuery();
    }

    public override string Name => "sqlite";

    public override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"PRAGMA synchronous=FULL; PRAGMA busy_timeout={BusyTimeoutMs}; " +
            $"PRAGMA wal_autocheckpoint={WalCheckpointPages}";
        await command.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }

    public override ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection,
        CancellationToken cancellationToken) =>
        ValueTask.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(
            IsolationLevel.Serializable, deferred: false));

    /// <summary>BEGIN DEFERRED: reads see one snapshot (WAL) and take no write lock.</summary>
    public override ValueTask<DbTransaction> BeginReadAsync(DbConnection connection,
        CancellationToken cancellationToken) =>
        ValueTask.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: true));

    public override void AddAmount(DbCommand command, string name, BigInteger value) =>
        Add(command, name, value.ToString(CultureInfo.InvariantCulture));

    public override BigInteger ReadAmount(DbDataReader reader, int ordinal) =>
        BigInteger.Parse(reader.GetString(ordinal), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);

    public override void AddTime(DbCommand command, string name, DateTime? value) =>
        Add(command, name, value is null ? null : (value.Value.ToUniversalTime() - DateTime.UnixEpoch).Ticks / 10);

    public override DateTime? ReadTime(DbDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : DateTime.UnixEpoch.AddTicks(reader.GetInt64(ordinal) * 10);

    public override void AddJson(DbCommand command, string name, string? value) => Add(command, name, value);

    /// <summary>
    /// The values as one JSON array parameter, read with <c>json_each</c>. SQLite looks a named parameter up by a
    /// linear search of the statement's names, so an <c>IN</c> list of n parameters costs n² to bind: a list of
    /// 1,000 ids took 8–11 ms a statement, against 2.5–3.9 ms as one array (docs/performance.md).
    /// </summary>
    public override string AddInList(DbCommand command, string name, IReadOnlyCollection<string> values)
    {
        var array = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(array))
        {
            json.WriteStartArray();
            foreach (var value in values)
            {
                json.WriteStringValue(value);
            }
            json.WriteEndArray();
        }
        Add(command, name, Encoding.UTF8.GetString(array.WrittenSpan));
        return $"IN (SELECT value FROM json_each(@{name}))";
    }

    public override string AddBalancesAndHoldBalances(DbCommand command, IReadOnlyCollection<string> balanceIds,
        IReadOnlyCollection<string> holdIds)
    {
        var holds = AddInList(command, "holds", holdIds);
        return $"(balance_id {AddInList(command, "ids", balanceIds)} " +
            $"OR balance_id IN (SELECT source FROM transactions WHERE transaction_id {holds}) " +
            $"OR balance_id IN (SELECT destination FROM transactions WHERE transaction_id {holds}))";
    }

    public override string LockRowsClause => "";

    public override string ClaimDueSql(string table, string key, string orderBy, string columns) =>
        ClaimDueSql(table, key, orderBy, columns, "1 = 1");

    /// <summary>One SQLite file belongs to one server process: a lease another owner took is a dead process's.</summary>
    public override string LeaseFree(string alias) =>
        $"({alias}.lease_until <= @now OR {alias}.lease_owner <> @owner)";

    protected override string ClaimDueSql(string table, string key, string orderBy, string columns, string filter) =>
        $"UPDATE {table} SET lease_until = @lease, lease_owner = @owner WHERE {key} IN (SELECT o.{key} FROM {table} o " +
        $"WHERE o.available_at <= @now AND {LeaseFree("o")} AND {filter} ORDER BY {orderBy} LIMIT @max) " +
        $"RETURNING {columns}";

    /// <summary>Each migration script runs under BEGIN IMMEDIATE, which already excludes other writers.</summary>
    public override Task<IAsyncDisposable> LockForMigrationAsync(DbConnection connection,
        CancellationToken cancellationToken) => Task.FromResult<IAsyncDisposable>(NoLock.Instance);

    private sealed class NoLock : IAsyncDisposable
    {
        public static readonly NoLock Instance = new();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    public override bool IsUniqueViolation(DbException exception, out string constraint)
    {
        constraint = exception.Message;
        // A primary key is unique too (PostgreSQL reports both as unique_violation); SQLite has its own code.
        return exception is SqliteException
        {
            SqliteExtendedErrorCode: UniqueConstraintError or PrimaryKeyConstraintError,
        };
    }

    public override bool IsForeignKeyViolation(DbException exception) =>
        exception is SqliteException { SqliteErrorCode: ConstraintError, SqliteExtendedErrorCode: ForeignKeyConstraintError };

    public override bool IsRetryableConflict(Exception exception) => exception switch
    {
        SqliteException { SqliteErrorCode: BusyError or LockedError } => true,
        SqliteException sqlite => IsUniqueViolation(sqlite, out var constraint)
            && constraint.Contains("transactions.reference", StringComparison.Ordinal),
        _ => false,
    };

    public override bool IsAtCapacity(Exception exception) =>
        exception is SqliteException { SqliteErrorCode: BusyError or LockedError };
}
