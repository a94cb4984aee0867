using System.Globalization;
using Blnk.Core.Transactions;
using Blnk.Storage.Postgres;
using Blnk.TestSupport;
using Npgsql;
using Xunit;

namespace Blnk.Storage.Tests;

/// <summary>
/// The writer's PostgreSQL sessions plan a batch's key lookups as index lookups (see ForWriter), and the prepared
/// lookups' sessions also keep one generic plan per statement (see ForLookups).
/// </summary>
public sealed class PostgresWriterConnectionTests
{
    [Fact]
    public void Writer_connection_string_adds_the_planner_options_and_keeps_the_callers()
    {
        var writer = new NpgsqlConnectionStringBuilder(PostgresConnectionString.ForWriter(
            PostgresConnectionString.Parse("Host=db;Database=ledger;Options=-c statement_timeout=5s")));

        Assert.Equal("-c statement_timeout=5s " + PostgresConnectionString.WriterPlannerOptions, writer.Options);
        Assert.Equal(PostgresDialect.SchemaName, writer.SearchPath);
        Assert.Equal("db", writer.Host);
        Assert.Equal(PostgresConnectionString.WriterPoolSize, writer.MaxPoolSize);
    }

    [Fact]
    public void Lookup_connection_string_adds_the_generic_plan_to_the_writers_options()
    {
        var lookups = new NpgsqlConnectionStringBuilder(PostgresConnectionString.ForLookups(
            PostgresConnectionString.Parse("Host=db;Database=ledger;Options=-c statement_timeout=5s")));

        Assert.Equal("-c statement_timeout=5s " + PostgresConnectionString.WriterPlannerOptions +
            " -c max_parallel_workers_per_gather=0 -c plan_cache_mode=force_generic_plan", lookups.Options);
        Assert.Equal(PostgresDialect.SchemaName, lookups.SearchPath);
        Assert.Equal(PostgresConnectionString.LookupPoolSize, lookups.MaxPoolSize);
    }

    [Fact]
    public async Task A_family_lookup_planned_without_its_id_reads_by_index_when_nearly_every_parent_is_empty()
    {
        var (store, url) = await TestStores.CreateWithDataSourceAsync(TestStores.Postgres);
        await using var _ = store;
        var (source, destination) = await LedgerStoreConformanceTests.CreateTwoBalancesAsync(store);
        var hold = LedgerStoreConformanceTests.NewTransaction(source, destination, 5, TransactionStatus.Inflight);
        await LedgerStoreConformanceTests.InsertAsync(store, [hold]);
        await using var connection = new NpgsqlConnection(
            PostgresConnectionString.ForLookups(PostgresConnectionString.Parse(url)));
        await connection.OpenAsync();
        Assert.Equal("force_generic_plan", await ScalarAsync(connection, "SHOW plan_cache_mode"));
        // Statistics that see (nearly) every parent_transaction empty: a plan made without the id expects most of
        // the table to match it.
        await ScalarAsync(connection, "INSERT INTO transactions (transaction_id, source, destination, reference, " +
            "currency, status, hash, precise_amount, precision, created_at) SELECT 'txn_' || g, " +
            $"'{source}', '{destination}', 'ref_' || g, 'USD', 'APPLIED', 'h', 1, 100, now() " +
            "FROM generate_series(1, 50000) g; ANALYZE transactions");
        var before = await ParentIndexTuplesReadAsync(connection);

        for (var call = 0; call < 3; call++)
        {
            await using var command = connection.CreateCommand();
            ((SqlLedgerStore)store).BindFamilyLookup(command, hold.TransactionId, [TransactionStatus.Inflight]);
            await command.PrepareAsync();
            await using var reader = await command.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.Equal(hold.TransactionId, reader.GetString(0));
            Assert.False(await reader.ReadAsync());
        }

        // Index lookups by the id read no entry of the parent index here; a scan of it would read every row's.
        Assert.True(await ParentIndexTuplesReadAsync(connection) - before < 100);
    }

    private static async Task<long> ParentIndexTuplesReadAsync(NpgsqlConnection connection)
    {
        await ScalarAsync(connection, "SELECT pg_stat_force_next_flush()");
        await ScalarAsync(connection, "SELECT pg_stat_clear_snapshot()");
        return Convert.ToInt64(await ScalarAsync(connection, "SELECT idx_tup_read FROM pg_stat_user_indexes " +
            "WHERE indexrelname = 'transactions_parent_idx'"), CultureInfo.InvariantCulture);
    }

    private static async Task<object?> ScalarAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }

    [Fact]
    public async Task A_writer_session_on_a_real_server_runs_with_those_settings()
    {
        var url = await TestStores.NewDataSourceAsync(TestStores.Postgres);
        await using var connection = new NpgsqlConnection(
            PostgresConnectionString.ForWriter(PostgresConnectionString.Parse(url)));
        await connection.OpenAsync();

        foreach (var (setting, expected) in new[]
                 {
                     ("enable_seqscan", "off"), ("enable_hashjoin", "off"), ("enable_mergejoin", "off"), ("jit", "off"),
                 })
        {
            await using var command = new NpgsqlCommand($"SHOW {setting}", connection);
            Assert.Equal(expected, (string?)await command.ExecuteScalarAsync());
        }
    }
}
