using Npgsql;

namespace Blnk.Storage.Postgres;

/// <summary>The storage port on PostgreSQL; owns the connection pools (one for the writer's batches).</summary>
public sealed class PostgresLedgerStore : SqlLedgerStore
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly NpgsqlDataSource _writerDataSource;

    public PostgresLedgerStore(string connectionString)
        : this(NpgsqlDataSource.Create(connectionString),
            NpgsqlDataSource.Create(PostgresConnectionString.ForWriter(connectionString)))
    {
    }

    private PostgresLedgerStore(NpgsqlDataSource dataSource, NpgsqlDataSource writerDataSource)
        : base(new PostgresDialect(dataSource, writerDataSource))
    {
        _dataSource = dataSource;
        _writerDataSource = writerDataSource;
    }

    public override async ValueTask DisposeAsync()
    {
        await _writerDataSource.DisposeAsync();
        await _dataSource.DisposeAsync();
        await base.DisposeAsync();
    }
}
