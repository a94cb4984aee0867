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
            " -c plan_cache_mode=force_generic_plan", lookups.Options);
        Assert.Equal(PostgresDialect.SchemaName, lookups.SearchPath);
        Assert.Equal(PostgresConnectionString.LookupPoolSize, lookups.MaxPoolSize);
    }

    [Fact]
    public async Task A_lookup_session_plans_a_family_lookup_once_and_with_indexes()
    {
        var url = await TestStores.NewDataSourceAsync(TestStores.Postgres);
        await using (var store = LedgerStoreFactory.Create(url))
        {
            await store.MigrateAsync(CancellationToken.None);
        }
        await using var connection = new NpgsqlConnection(
            PostgresConnectionString.ForLookups(PostgresConnectionString.Parse(url)));
        await connection.OpenAsync();

        await using (var show = new NpgsqlCommand("SHOW plan_cache_mode", connection))
        {
            Assert.Equal("force_generic_plan", (string?)await show.ExecuteScalarAsync());
        }
        // A generic plan cannot see the id; with sequential scans off it still looks children up by index.
        await using var explain = new NpgsqlCommand("PREPARE family(text) AS SELECT transaction_id FROM transactions " +
            "WHERE parent_transaction = $1; EXPLAIN EXECUTE family('txn_x')", connection);
        var plan = new List<string>();
        await using (var reader = await explain.ExecuteReaderAsync())
        {
            do
            {
                while (await reader.ReadAsync())
                {
                    plan.Add(reader.GetString(0));
                }
            }
            while (await reader.NextResultAsync());
        }
        Assert.Contains(plan, line => line.Contains("(parent_transaction = $1)", StringComparison.Ordinal));
        Assert.Contains(plan, line => line.Contains("transactions_parent_idx", StringComparison.Ordinal));
        Assert.DoesNotContain(plan, line => line.Contains("Seq Scan", StringComparison.Ordinal));
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
