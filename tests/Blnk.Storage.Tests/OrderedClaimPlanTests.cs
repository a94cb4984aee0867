using System.Data.Common;
using System.Text.RegularExpressions;
using Blnk.TestSupport;
using Xunit;

namespace Blnk.Storage.Tests;

// Covers how the work tables claimed in order per entity (lineage work, webhook deliveries) are read, on SQLite and
// PostgreSQL: the statements that find and lease due rows read candidates and earlier rows only through the
// table's partial indexes of pending rows, so their cost follows the backlog, not the history. Reading the primary
// key instead walked every processed row on each claim (docs/performance.md: lineage drained at 19 rows a second).
// Not covered here: what the claims return (LineageConformanceTests, OutboxConformanceTests).
public sealed partial class OrderedClaimPlanTests
{
    private const int HistoryRows = 50_000;
    private const int PendingRows = 2_000;

    private static CancellationToken Ct => CancellationToken.None;

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Ordered_claims_read_only_pending_rows_through_partial_indexes(string dialect)
    {
        var (store, dataSource) = await TestStores.CreateWithDataSourceAsync(dialect);
        await using var _ = store;
        var sqlStore = (SqlLedgerStore)store;
        await using (var connection = await TestStores.OpenRawConnectionAsync(dataSource))
        {
            await WriteHistoryAsync(store, connection, dialect);
        }

        (string Table, string Sql, bool Claims)[] statements =
        [
            ("lineage_outbox", sqlStore.DueLineageWorkSql, false),
            ("lineage_outbox", sqlStore.ClaimLineageWorkSql, true),
            ("webhook_outbox", sqlStore.DueDeliveriesSql, false),
            ("webhook_outbox", sqlStore.ClaimDeliveriesSql, true),
        ];
        foreach (var (table, sql, claims) in statements)
        {
            var partialIndexes = await PartialIndexesAsync(dataSource, dialect, table);
            var plan = await PlanAsync(sqlStore, dialect, sql, claims);
            var reads = CandidateAndEarlierRowReads(dialect, table, plan);

            Assert.True(reads.Count >= 2, $"no read of {table} by o and p in:\n{string.Join('\n', plan)}");
            // Each candidate is checked by index probes, never against a materialised or hashed set of the
            // pending rows, which the stale statistics of a burst made quadratic on PostgreSQL.
            Assert.False(claims && plan.Any(line => line.Contains("Materialize", StringComparison.Ordinal) ||
                line.Contains("Hash", StringComparison.Ordinal)), $"{table}:\n{string.Join('\n', plan)}");
            Assert.All(reads, read => Assert.True(partialIndexes.Contains(read.Index ?? ""),
                $"{read.Line} does not read a partial index of {table} ({string.Join(", ", partialIndexes)}):\n" +
                string.Join('\n', plan)));
        }
    }

    [Fact]
    public async Task A_claim_on_postgres_is_planned_with_index_probes_only()
    {
        var store = (SqlLedgerStore)await TestStores.CreateAsync(TestStores.Postgres);
        await using var _ = store;
        await using var connection = await store.SqlDialect.OpenAsync(Ct);
        await using var claim = await store.SqlDialect.BeginClaimAsync(connection, Ct);
        await using var command = connection.CreateCommand();
        command.Transaction = claim;
        command.CommandText = "SELECT current_setting('enable_material') || current_setting('enable_hashjoin') || " +
            "current_setting('enable_mergejoin')";

        // Whatever the statistics of a burst say, each candidate is checked by index probes (PostgresDialect).
        Assert.Equal("offoffoff", await command.ExecuteScalarAsync(Ct));
    }

    /// <summary>
    /// A long processed history in both tables and a pending backlog after it: lineage rows of one identity, and
    /// deliveries about fifty entities. PostgreSQL's statistics are refreshed, as autovacuum would.
    /// </summary>
    private static async Task WriteHistoryAsync(ILedgerStore store, DbConnection connection, string dialect)
    {
        var (source, destination) = await LedgerStoreConformanceTests.CreateTwoBalancesAsync(store);
        var postgres = dialect == TestStores.Postgres;
        var past = postgres ? "now() - interval '1 hour'" : "0";
        await TestStores.ScalarAsync(connection,
            "INSERT INTO transactions (transaction_id, source, destination, reference, currency, status, hash, " +
            $"precise_amount, precision, created_at) {Numbers(1, HistoryRows)} SELECT 'txn_' || i, '{source}', " +
            $"'{destination}', 'ref_' || i, 'USD', 'APPLIED', 'h', '1', '100', {past} FROM n");
        await AppendWorkAsync(connection, 1, HistoryRows - PendingRows, past, past);
        await AppendWorkAsync(connection, HistoryRows - PendingRows + 1, HistoryRows, past, "NULL");
        if (postgres)
        {
            await TestStores.ScalarAsync(connection, "ANALYZE transactions, lineage_outbox, webhook_outbox");
        }
    }

    private static async Task AppendWorkAsync(DbConnection connection, int first, int last, string past,
        string processed)
    {
        await TestStores.ScalarAsync(connection,
            "INSERT INTO lineage_outbox (transaction_id, lineage_type, destination_identity_id, available_at, " +
            $"lease_until, processed_at, created_at) {Numbers(first, last)} SELECT 'txn_' || i, 'credit', 'idt_y', " +
            $"{past}, {past}, {processed}, {past} FROM n");
        await TestStores.ScalarAsync(connection,
            "INSERT INTO webhook_outbox (event, payload, created_at, entity_key, available_at, lease_until, " +
            $"delivered_at) {Numbers(first, last)} SELECT 'transaction.applied', '{{}}', {past}, 'txn_' || (i % 50), " +
            $"{past}, {past}, {processed} FROM n");
    }

    private static string Numbers(int first, int last) =>
        $"WITH RECURSIVE n(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM n WHERE i < {last})";

    /// <summary>
    /// The indexes of <paramref name="table"/> that hold only some rows (their definition has a WHERE).
    /// </summary>
    private static async Task<HashSet<string>> PartialIndexesAsync(string dataSource, string dialect, string table)
    {
        await using var connection = await TestStores.OpenRawConnectionAsync(dataSource);
        await using var command = connection.CreateCommand();
        command.CommandText = dialect == TestStores.Postgres
            ? $"SELECT indexname FROM pg_indexes WHERE tablename = '{table}' AND indexdef LIKE '% WHERE %'"
            : $"SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = '{table}' AND sql LIKE '% WHERE %'";
        var names = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            names.Add(reader.GetString(0));
        }
        Assert.True(names.Count >= 2, $"{table} has no partial indexes of pending rows");
        return names;
    }

    /// <summary>
    /// The plan of the real statement with its real parameters, on a connection of the store's own.
    /// </summary>
    private static async Task<List<string>> PlanAsync(SqlLedgerStore store, string dialect, string sql, bool claims)
    {
        var now = DateTime.UtcNow;
        await using var connection = await store.SqlDialect.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        var postgres = dialect == TestStores.Postgres;
        command.CommandText = (postgres ? "EXPLAIN " : "EXPLAIN QUERY PLAN ") + sql;
        // A claim is planned inside the transaction it runs in, with that transaction's settings; rolled back.
        await using var claim = claims ? await store.SqlDialect.BeginClaimAsync(connection, Ct) : null;
        command.Transaction = claim;
        if (claims)
        {
            await store.AddClaimParametersAsync(command, 100, now, now.AddSeconds(10), Ct);
        }
        else
        {
            store.AddDueParameters(command, now);
        }
        var lines = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            // PostgreSQL: one text line a row; SQLite: id, parent, unused, detail.
            lines.Add(reader.GetString(postgres ? 0 : 3));
        }
        return lines;
    }

    /// <summary>
    /// The plan's reads of the candidate rows (alias <c>o</c>) and of the earlier rows checked against them
    /// (<c>p</c>, which PostgreSQL numbers <c>p_1</c>… when it appears several times), each with the index it
    /// reads (none for a scan of the table). The claim's own update of the rows it leased (by key) is left out.
    /// </summary>
    private static List<(string Line, string? Index)> CandidateAndEarlierRowReads(string dialect, string table,
        List<string> plan)
    {
        var reads = new List<(string Line, string? Index)>();
        for (var i = 0; i < plan.Count; i++)
        {
            if (dialect == TestStores.Sqlite)
            {
                if (SqliteRead().Match(plan[i]) is { Success: true } lite)
                {
                    reads.Add((plan[i], NonEmpty(lite.Groups["index"].Value)));
                }
            }
            else if (PostgresRead().Match(plan[i]) is { Success: true } pg && pg.Groups["table"].Value == table)
            {
                // A bitmap heap scan reads through the bitmap index scan under it.
                var index = pg.Groups["kind"].Value == "Bitmap Heap Scan"
                    ? plan.Skip(i + 1).Take(3).Select(line => BitmapIndexScan().Match(line))
                        .FirstOrDefault(match => match.Success)?.Groups["index"].Value
                    : NonEmpty(pg.Groups["index"].Value);
                reads.Add((plan[i].Trim(), index));
            }
        }
        return reads;
    }

    private static string? NonEmpty(string value) => value.Length == 0 ? null : value;

    // "Index Scan using lineage_outbox_pending_idx on lineage_outbox o", "Seq Scan on lineage_outbox p_1".
    [GeneratedRegex(@"(?<kind>Seq Scan|Index Scan|Index Only Scan|Bitmap Heap Scan) (?:using (?<index>\w+) )?" +
        @"on (?<table>\w+) (?:o|p)(?:_\d+)?\b")]
    private static partial Regex PostgresRead();

    [GeneratedRegex(@"Bitmap Index Scan on (?<index>\w+)")]
    private static partial Regex BitmapIndexScan();

    // "SEARCH o USING INDEX lineage_outbox_pending_idx (available_at<?)", "SCAN p", "SEARCH p USING INTEGER ...".
    [GeneratedRegex(@"^(?:SCAN|SEARCH) (?:o|p)\b(?: USING (?:COVERING )?INDEX (?<index>\w+))?")]
    private static partial Regex SqliteRead();
}
