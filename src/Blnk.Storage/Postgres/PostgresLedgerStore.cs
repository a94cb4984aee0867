using Npgsql;

namespace Blnk.Storage.Postgres;

/// <summary>
/// The storage port on PostgreSQL; owns the connection pools: requests', the writer's batches', and the prepared
/// key lookups'.
/// </summary>
public sealed class PostgresLedgerStore : SqlLedgerStore
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly NpgsqlDataSource _writerDataSource;
    private readonly NpgsqlDataSource _lookupDataSource;

    public PostgresLedgerStore(string connectionString)
        : this(NpgsqlDataSource.Create(connectionString),
            NpgsqlDataSource.Create(PostgresConnectionString.ForWriter(connectionString)),
            NpgsqlDataSource.Create(PostgresConnectionString.ForLookups(connectionString)))
    {
    }

    private PostgresLedgerStore(NpgsqlDataSource dataSource, NpgsqlDataSource writerDataSource,
        NpgsqlDataSource lookupDataSource)
        : base(new PostgresDialect(dataSource, writerDataSource, lookupDataSource))
    {
        _dataSource = dataSource;
        _writerDataSource = writerDataSource;
        _lookupDataSource = lookupDataSource;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync(); // the dialect's lease session first, while its pool is still open
        await _lookupDataSource.DisposeAsync();
        await _writerDataSource.DisposeAsync();
        await _dataSource.DisposeAsync();
    }
}
