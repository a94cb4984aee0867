using System.Data.Common;
using Blnk.Storage.Postgres;
using Blnk.TestSupport;

namespace Blnk.Storage.Tests;

/// <summary>
/// Ids, references and the other text keys compare byte by byte in every index and foreign key. Compared by a
/// language's rules instead, as a PostgreSQL database created with en_US.UTF-8 does by default, the bulk workload
/// ran ~28 % slower (PostgreSQL migration 0011, docs/performance.md).
/// </summary>
public sealed class KeyCollationTests
{
    [Fact]
    public async Task PostgreSQL_keys_compare_byte_by_byte_in_a_database_that_collates_by_language()
    {
        var cluster = await PostgresCluster.SharedAsync();
        var url = await cluster.CreateDatabaseAsync("collation", icuLocale: "en-US");
        await using (var store = LedgerStoreFactory.Create(url))
        {
            await store.MigrateAsync(CancellationToken.None);
        }
        await using var connection = await TestStores.OpenRawConnectionAsync(url);
        Assert.Equal("i", (string?)await TestStores.ScalarAsync(connection,
            "SELECT datlocprovider::text FROM pg_database WHERE datname = current_database()"));

        // An index compares by the collation it was built with; a foreign key's column by its own.
        var keys = await KeyCollationsAsync(connection, $"""
            SELECT c.relname || '.' || a.attname, k.coll::regcollation::text
            FROM pg_class c
            JOIN (SELECT i.indrelid, key.attnum, key.coll
                  FROM pg_index i, unnest(i.indkey::int2[], i.indcollation::oid[]) AS key (attnum, coll)
                  UNION ALL
                  SELECT f.conrelid, f.attnum, a.attcollation
                  FROM (SELECT conrelid, unnest(conkey) AS attnum FROM pg_constraint WHERE contype = 'f') f
                  JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = f.attnum) k ON k.indrelid = c.oid
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
            WHERE c.relnamespace = '{PostgresDialect.SchemaName}'::regnamespace AND a.atttypid = 'text'::regtype
            """);

        AssertEveryKeyCollatedBy("\"C\"", keys);
    }

    [Fact]
    public async Task SQLite_keys_compare_byte_by_byte()
    {
        var (store, dataSource) = await TestStores.CreateWithDataSourceAsync(TestStores.Sqlite);
        await using var _ = store;
        await using var connection = await TestStores.OpenRawConnectionAsync(dataSource);

        // A foreign key is checked through its parent key's index, so the indexes cover the keys.
        var keys = await KeyCollationsAsync(connection, """
            SELECT DISTINCT m.name || '.' || x.name, x.coll
            FROM sqlite_master m, pragma_index_list(m.name) l, pragma_index_xinfo(l.name) x
            WHERE m.type = 'table' AND x.key = 1 AND x.name IS NOT NULL
            """);

        AssertEveryKeyCollatedBy("BINARY", keys);
    }

    private static void AssertEveryKeyCollatedBy(string collation, List<(string Column, string Collation)> keys)
    {
        var columns = keys.Select(key => key.Column).ToList();
        Assert.Contains("transactions.reference", columns);
        Assert.Contains("transactions.source", columns);
        Assert.Contains("balances.balance_id", columns);
        Assert.Empty(keys.Where(key => key.Collation != collation).Select(key => $"{key.Column} ({key.Collation})"));
    }

    /// <summary>Each text column in a key, with the collation the key compares it by.</summary>
    private static async Task<List<(string Column, string Collation)>> KeyCollationsAsync(DbConnection connection,
        string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await using var reader = await command.ExecuteReaderAsync();
        var keys = new List<(string, string)>();
        while (await reader.ReadAsync())
        {
            keys.Add((reader.GetString(0), reader.GetString(1)));
        }
        return keys;
    }
}
