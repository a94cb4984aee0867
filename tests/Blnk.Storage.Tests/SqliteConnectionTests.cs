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

    [Fact]
    public async Task A_connection_leaves_the_WAL_to_grow_ten_times_SQLite_default_before_checkpointing_it()
    {
        await using var dialect = new SqliteDialect(Path.Combine(_directory, "blnk.db"));
        await using var connection = await dialect.OpenAsync(CancellationToken.None);

        // A commit that crosses the length copies the WAL back into the file: at SQLite's 1,000 pages one transfer
        // in ~85 did, and W1's p99 was that commit (docs/performance.md).
        Assert.Equal(10_000L, await PragmaAsync(connection, "wal_autocheckpoint"));
    }

    private static async Task<long> PragmaAsync(System.Data.Common.DbConnection connection, string pragma)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = $"PRAGMA {pragma}";
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
