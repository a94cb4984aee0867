using System.Data.Common;
using System.Globalization;
using Blnk.TestSupport;
using Xunit;

namespace Blnk.Storage.Tests;

/// <summary>
/// On PostgreSQL a process's leases count as held while it holds the session advisory lock on its lease key (see
/// <see cref="SqlDialect.LeaseFree"/>): the lock must outlive a lost session and end with the store.
/// </summary>
public sealed class PostgresLeaseOwnerTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task A_lost_lease_lock_is_taken_again_and_the_lock_ends_with_the_store()
    {
        var (store, dataSource) = await TestStores.CreateWithDataSourceAsync(TestStores.Postgres);
        var dialect = ((SqlLedgerStore)store).SqlDialect;
        await using var raw = await TestStores.OpenRawConnectionAsync(dataSource);

        await dialect.HoldLeasesAsync(Ct);
        Assert.Equal(1, await LeaseLocksAsync(raw, dialect.LeaseOwner));

        // Its session is lost (as in a restart of PostgreSQL): at the next check the lock is taken on a new one.
        await TestStores.ScalarAsync(raw,
            $"SELECT count(pg_terminate_backend(l.pid)) FROM pg_locks l {HeldBy(dialect.LeaseOwner)}");
        await WaitUntilAsync(async () => await LeaseLocksAsync(raw, dialect.LeaseOwner) == 0);
        await Task.Delay(TimeSpan.FromSeconds(5.5));
        await dialect.HoldLeasesAsync(Ct);
        Assert.Equal(1, await LeaseLocksAsync(raw, dialect.LeaseOwner));

        await store.DisposeAsync();
        await WaitUntilAsync(async () => await LeaseLocksAsync(raw, dialect.LeaseOwner) == 0);
    }

    private static string HeldBy(long owner) =>
        "WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted " +
        $"AND ((l.classid::bigint << 32) | l.objid::bigint) = {owner.ToString(CultureInfo.InvariantCulture)}";

    private static async Task<long> LeaseLocksAsync(DbConnection raw, long owner) =>
        Convert.ToInt64(await TestStores.ScalarAsync(raw, $"SELECT count(*) FROM pg_locks l {HeldBy(owner)}"),
            CultureInfo.InvariantCulture);

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the lease lock did not change in 10 s");
            await Task.Delay(100);
        }
    }
}
