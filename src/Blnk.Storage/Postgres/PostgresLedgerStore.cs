using Npgsql;

namespace Blnk.Storage.Postgres;

/// <summary>The storage port on PostgreSQL; owns the connection pool.</summary>
public sealed class PostgresLedgerStore : SqlLedgerStore
{
    private readonly NpgsqlDataSource _dataSource;

    public PostgresLedgerStore(string connectionString) : this(NpgsqlDataSource.Create(connectionString))
    {
    }

    private PostgresLedgerStore(NpgsqlDataSource dataSource) : base(new PostgresDialect(dataSource))
    {
        _dataSource = dataSource;
    }

    public override async Task MigrateAsync(CancellationToken cancellationToken)
    {
        // The advisory lock keeps two processes that start together from racing on CREATE SCHEMA.
        await using (var command = _dataSource.CreateCommand(
            $"SELECT pg_advisory_lock({PostgresDialect.MigrationLockKey}); " +
            $"CREATE SCHEMA IF NOT EXISTS {PostgresDialect.SchemaName}; " +
            $"SELECT pg_advisory_unlock({PostgresDialect.MigrationLockKey})"))
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        await base.MigrateAsync(cancellationToken);
    }

    public override async ValueTask DisposeAsync()
    {
        await _dataSource.DisposeAsync();
        await base.DisposeAsync();
    }
}
