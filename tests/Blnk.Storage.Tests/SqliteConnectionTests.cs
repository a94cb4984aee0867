using System.Globalization;
using Blnk.Storage.Sqlite;

namespace Blnk.Storage.Tests;

// What every connection the SQLite dialect opens is set to.
public sealed class SqliteConnectionTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("blnk-sqlite-").FullName;

    [Fact]
    public async Task A_connection_commits_durably_and_waits_for_a_write_lock_inside_SQLite()
    {
        await using var dialect = new SqliteDialect(Path.Combine(_directory, "blnk.db"));
        await using var connection = await dialect.OpenAsync(CancellationToken.None);

        // synchronous=FULL (2): a commit that returned is on disk. A busy timeout makes SQLite wait for another
        // connection's write lock itself, retrying within milliseconds, instead of Microsoft.Data.Sqlite sleeping
        // 150 ms between retries (a writer batch that met a queue claim's lock stalled that long).
        Assert.Equal(2L, await PragmaAsync(connection, "synchronous"));
        Assert.Equal(30_000L, await PragmaAsync(connection, "busy_timeout"));
    }

    private static async Task<long> PragmaAsync(System.Data.Common.DbConnection connection, string pragma)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = $"PRAGMA {pragma}";
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
