using System.Data.Common;
using System.Globalization;
using Blnk.TestSupport;

namespace Blnk.Server.Tests;

/// <summary>
/// Counts the rows the server inserts into one of its tables, by a trigger on the database itself: how tests see
/// that a row was never written, although the server would have deleted it again by the time they look.
/// </summary>
public static class InsertProbe
{
    /// <summary>Makes the database count every row inserted into <paramref name="table"/> from now on.</summary>
    public static async Task InstallAsync(DbConnection connection, string dialect, string table)
    {
        string[] statements = dialect == TestStores.Sqlite
            ?
            [
                $"CREATE TABLE test_{table}_inserts (n INTEGER NOT NULL)",
                $"""
                CREATE TRIGGER test_{table}_inserts AFTER INSERT ON {table}
                BEGIN INSERT INTO test_{table}_inserts VALUES (1); END
                """,
            ]
            :
            [
                $"CREATE TABLE test_{table}_inserts (n INTEGER NOT NULL)",
                $$"""
                CREATE FUNCTION test_{{table}}_insert() RETURNS trigger AS $$
                BEGIN INSERT INTO test_{{table}}_inserts VALUES (1); RETURN NEW; END;
                $$ LANGUAGE plpgsql
                """,
                $"""
                CREATE TRIGGER test_{table}_inserts AFTER INSERT ON {table}
                FOR EACH ROW EXECUTE FUNCTION test_{table}_insert()
                """,
            ];
        foreach (var statement in statements)
        {
            await TestStores.ScalarAsync(connection, statement);
        }
    }

    /// <summary>The rows inserted into <paramref name="table"/> since <see cref="InstallAsync"/>.</summary>
    public static async Task<long> CountAsync(DbConnection connection, string table) =>
        Convert.ToInt64(await TestStores.ScalarAsync(connection, $"SELECT COUNT(*) FROM test_{table}_inserts"),
            CultureInfo.InvariantCulture);
}
