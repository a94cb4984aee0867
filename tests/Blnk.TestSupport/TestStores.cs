using System.Data.Common;
using Blnk.Storage;
using Blnk.Storage.Postgres;
using Microsoft.Data.Sqlite;
using Npgsql;
using Xunit;

namespace Blnk.TestSupport;

/// <summary>
/// Fresh, migrated ledger stores for tests, one per call: SQLite in a new temporary file, PostgreSQL in a
/// new database on <see cref="PostgresCluster.SharedAsync"/>.
/// </summary>
public static class TestStores
{
    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";

    private static readonly Lazy<string> _sqliteRoot = new(CreateSqliteRoot, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Every dialect a conformance test runs against.</summary>
    public static TheoryData<string> Dialects => new() { Sqlite, Postgres };

    /// <summary>A fresh store of <paramref name="dialect"/> with all migrations applied.</summary>
    public static async Task<ILedgerStore> CreateAsync(string dialect) =>
        (await CreateWithDataSourceAsync(dialect)).Store;

    /// <summary>
    /// A fresh, migrated store and the <c>data_source.dns</c> it was created from
    /// (<c>sqlite:/tmp/…/x.db</c> or <c>postgres://…</c>), for tests that also need a raw connection.
    /// </summary>
    public static async Task<(ILedgerStore Store, string DataSource)> CreateWithDataSourceAsync(string dialect)
    {
        var dataSource = await NewDataSourceAsync(dialect);
        var store = LedgerStoreFactory.Create(dataSource);
        try
        {
            await store.MigrateAsync(CancellationToken.None);
            return (store, dataSource);
        }
        catch
        {
            await store.DisposeAsync();
            throw;
        }
    }

    /// <summary>The <c>data_source.dns</c> of a new, empty database of <paramref name="dialect"/>.</summary>
    public static async Task<string> NewDataSourceAsync(string dialect) => dialect switch
    {
        Sqlite => "sqlite:" + Path.Combine(_sqliteRoot.Value, Guid.NewGuid().ToString("N"), "x.db"),
        Postgres => await (await PostgresCluster.SharedAsync()).CreateDatabaseAsync(),
        _ => throw new ArgumentException($"unknown dialect '{dialect}': use '{Sqlite}' or '{Postgres}'",
            nameof(dialect)),
    };

    /// <summary>
    /// An open connection straight to the database behind <paramref name="dataSource"/>, bypassing the store
    /// (PostgreSQL: with the store's search path, so unqualified table names resolve as they do for the store).
    /// </summary>
    public static async Task<DbConnection> OpenRawConnectionAsync(string dataSource)
    {
        DbConnection connection = dataSource.StartsWith("sqlite:", StringComparison.Ordinal)
            ? new SqliteConnection(new SqliteConnectionStringBuilder
            {
                DataSource = dataSource["sqlite:".Length..],
                ForeignKeys = true,
                Pooling = false,
            }.ToString())
            : new NpgsqlConnection(PostgresConnectionString.Parse(dataSource));
        try
        {
            await connection.OpenAsync();
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>The first column of the first row <paramref name="sql"/> returns on a raw connection.</summary>
    public static async Task<object?> ScalarAsync(DbConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync();
    }

    private static string CreateSqliteRoot()
    {
        var root = Path.Combine(Path.GetTempPath(), "blnk-sqlite-" + Guid.NewGuid().ToString("N")[..16]);
        Directory.CreateDirectory(root);
        ExitCleanup.Register(root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                SqliteConnection.ClearAllPools();
                Directory.Delete(root, recursive: true);
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                // Best effort at exit.
            }
        };
        return root;
    }
}
