using Blnk.Storage.Postgres;
using Blnk.TestSupport;
using Npgsql;
using Xunit;

namespace Blnk.Storage.Tests;

/// <summary>The writer's PostgreSQL sessions plan a batch's key lookups as index lookups (see ForWriter).</summary>
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
