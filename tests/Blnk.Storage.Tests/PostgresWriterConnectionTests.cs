using System.Globalization;
using System.Text.Json;
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
    public async Task A_family_lookup_planned_without_its_ids_reads_by_index_when_nearly_every_parent_is_empty()
    {
        var (store, url) = await TestStores.CreateWithDataSourceAsync(TestStores.Postgres);
        await using var _ = store;
        var (source, destination) = await LedgerStoreConformanceTests.CreateTwoBalancesAsync(store);
        // Several families, as the batched reader asks for them: two holds, and a split whose queued leg's
        // outcome is a hold (found through the leg: the statement's third branch).
        var holds = Enumerable.Range(0, 2).Select(_ => LedgerStoreConformanceTests.NewTransaction(source,
            destination, 5, TransactionStatus.Inflight)).ToList();
        var split = LedgerStoreConformanceTests.NewTransaction(source, destination, 5, TransactionStatus.Queued);
        var leg = LedgerStoreConformanceTests.NewTransaction(source, destination, 5, TransactionStatus.Queued) with
        {
            ParentTransaction = split.TransactionId,
        };
        var legOutcome = LedgerStoreConformanceTests.NewTransaction(source, destination, 5,
            TransactionStatus.Inflight) with { ParentTransaction = leg.TransactionId };
        await LedgerStoreConformanceTests.InsertAsync(store, [.. holds, split, leg, legOutcome]);
        string[] requested = [holds[0].TransactionId, holds[1].TransactionId, split.TransactionId];
        await using var connection = new NpgsqlConnection(
            PostgresConnectionString.ForLookups(PostgresConnectionString.Parse(url)));
        await connection.OpenAsync();
        Assert.Equal("force_generic_plan", await TestStores.ScalarAsync(connection, "SHOW plan_cache_mode"));
        // Statistics that see (nearly) every parent_transaction empty: a plan made without the ids expects most of
        // the table to match them.
        await TestStores.ScalarAsync(connection,
            "INSERT INTO transactions (transaction_id, source, destination, reference, currency, status, hash, " +
            "precise_amount, precision, created_at) SELECT 'txn_' || g, " +
            $"'{source}', '{destination}', 'ref_' || g, 'USD', 'APPLIED', 'h', 1, 100, now() " +
            "FROM generate_series(1, 50000) g; ANALYZE transactions");
        var before = await ParentIndexTuplesReadAsync(connection);

        for (var call = 0; call < 3; call++)
        {
            Assert.Equal([(holds[0].TransactionId, holds[0].TransactionId),
                    (holds[1].TransactionId, holds[1].TransactionId), (legOutcome.TransactionId, split.TransactionId)],
                await FamilyMembersAsync(store, connection, requested));
        }

        // Index lookups by the ids read a few entries of the parent index here; a scan of it would read every row's.
        Assert.True(await ParentIndexTuplesReadAsync(connection) - before < 100);
        // And the plan has nothing else to choose: no join (which read that index whole) and no sort (which let it
        // read an index whole in seq order), only index lookups.
        Assert.All(await GenericPlanNodeTypesAsync(store, connection, requested),
            nodeType => Assert.Contains(nodeType, IndexLookupPlanNodes));
    }

    private static readonly string[] IndexLookupPlanNodes =
        ["Append", "Index Scan", "Index Only Scan", "Bitmap Index Scan", "Bitmap Heap Scan"];

    /// <summary>The real statement, prepared on <paramref name="connection"/>: each row's id and its family's id.</summary>
    private static async Task<List<(string TransactionId, string FamilyId)>> FamilyMembersAsync(ILedgerStore store,
        NpgsqlConnection connection, string[] transactionIds)
    {
        await using var command = connection.CreateCommand();
        ((SqlLedgerStore)store).BindFamilyLookup(command, transactionIds, [TransactionStatus.Inflight]);
        await command.PrepareAsync();
        await using var reader = await command.ExecuteReaderAsync();
        var members = new List<(string TransactionId, string FamilyId)>();
        while (await reader.ReadAsync())
        {
            members.Add((reader.GetString(0), reader.GetString(SqlLedgerStore.TransactionColumnCount + 1)));
        }
        return [.. members.OrderBy(member => Array.IndexOf(transactionIds, member.FamilyId))];
    }

    /// <summary>
    /// The node types of the real statement's generic plan: prepared by name (with the positional parameters
    /// Npgsql sends for the named ones) on the lookup session, then explained for these ids.
    /// </summary>
    private static async Task<List<string>> GenericPlanNodeTypesAsync(ILedgerStore store,
        NpgsqlConnection connection, string[] transactionIds)
    {
        await using var command = connection.CreateCommand();
        ((SqlLedgerStore)store).BindFamilyLookup(command, transactionIds, [TransactionStatus.Inflight]);
        var positional = command.CommandText.Replace("@ids", "$1", StringComparison.Ordinal)
            .Replace("@statuses", "$2", StringComparison.Ordinal);
        await TestStores.ScalarAsync(connection, $"PREPARE family_lookup(text[], text[]) AS {positional}");
        // EXPLAIN takes no bound parameters: the ids (made by the test, no quotes in them) go in as literals.
        var ids = string.Join(", ", transactionIds.Select(id => $"'{id}'"));
        using var explained = JsonDocument.Parse((string)(await TestStores.ScalarAsync(connection,
            $"EXPLAIN (FORMAT JSON) EXECUTE family_lookup(ARRAY[{ids}], ARRAY['{TransactionStatus.Inflight}'])"))!);
        var nodeTypes = new List<string>();
        var pending = new Stack<JsonElement>([explained.RootElement[0].GetProperty("Plan")]);
        while (pending.TryPop(out var node))
        {
            nodeTypes.Add(node.GetProperty("Node Type").GetString()!);
            if (node.TryGetProperty("Plans", out var children))
            {
                foreach (var child in children.EnumerateArray())
                {
                    pending.Push(child);
                }
            }
        }
        return nodeTypes;
    }

    private static async Task<long> ParentIndexTuplesReadAsync(NpgsqlConnection connection)
    {
        await TestStores.ScalarAsync(connection, "SELECT pg_stat_force_next_flush()");
        await TestStores.ScalarAsync(connection, "SELECT pg_stat_clear_snapshot()");
        return Convert.ToInt64(await TestStores.ScalarAsync(connection,
            "SELECT idx_tup_read FROM pg_stat_user_indexes WHERE indexrelname = 'transactions_parent_idx'"),
            CultureInfo.InvariantCulture);
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
