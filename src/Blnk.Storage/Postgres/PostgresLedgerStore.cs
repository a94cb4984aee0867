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

    public override async ValueTask DisposeAsync()
    {
        await _dataSource.DisposeAsync();
        await base.DisposeAsync();
    }
}
