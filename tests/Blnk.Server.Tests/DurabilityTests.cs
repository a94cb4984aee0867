using System.Net;
using Blnk.Storage;
using Blnk.TestSupport;

namespace Blnk.Server.Tests;

// Covers what survives the server process: data after a restart, queued work after a SIGKILL, and
// every acknowledged transfer after a SIGKILL under load. Each test owns its server.
public sealed class DurabilityTests
{
    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Data_is_still_there_after_a_restart(string dialect)
    {
        await using var server = await ServerProcess.StartAsync(await ServerFixture.NewDataSourceAsync(dialect));
        var api = new Api(server.Client);
        var ledger = (await api.PostAsync("ledgers", new { name = "Durable" })).Str("ledger_id");
        var balance = await api.CreateBalanceAsync(ledgerId: ledger);
        await api.FundAsync(balance, 4242);

        await server.RestartAsync();

        Assert.Equal("Durable", (await api.GetAsync($"ledgers/{ledger}")).Str("name"));
        Assert.Equal(4242, await api.BalanceOfAsync(balance));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Queued_work_survives_a_crash(string dialect)
    {
        await using var server = await ServerProcess.StartAsync(await ServerFixture.NewDataSourceAsync(dialect));
        var api = new Api(server.Client);
        var (source, reference) = await ScheduleTransferAsync(api, TimeSpan.FromSeconds(4));

        server.Kill();
        await server.RestartAsync();

        var child = await api.WaitForReferenceAsync(reference + "_q", TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.OK, child.Status);
        Assert.Equal("APPLIED", child.Str("status"));
        Assert.Equal(70, await api.BalanceOfAsync(source));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Queued_work_a_crashed_process_had_leased_is_applied_at_once_after_the_restart(string dialect)
    {
        var dataSource = await ServerFixture.NewDataSourceAsync(dialect);
        await using var server = await ServerProcess.StartAsync(dataSource);
        var api = new Api(server.Client);
        var (source, reference) = await ScheduleTransferAsync(api, TimeSpan.FromSeconds(2));
        server.Kill();

        // A process that leases the entry for a minute when it falls due, then dies with the lease held.
        await using (var crashed = LedgerStoreFactory.Create(dataSource))
        {
            var deadline = DateTime.UtcNow.AddSeconds(15);
            while ((await crashed.ClaimQueuedAsync(10, DateTime.UtcNow, DateTime.UtcNow.AddMinutes(1),
                       CancellationToken.None)).Count == 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "the scheduled entry never fell due");
                await Task.Delay(200);
            }
        }
        await server.RestartAsync();

        var child = await api.WaitForReferenceAsync(reference + "_q", TimeSpan.FromSeconds(20));
        Assert.True(child.Status == HttpStatusCode.OK, "the dead process's lease held the entry back");
        Assert.Equal("APPLIED", child.Str("status"));
        Assert.Equal(70, await api.BalanceOfAsync(source));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Every_acknowledged_transfer_survives_a_sigkill_under_load(string dialect)
    {
        await using var server = await ServerProcess.StartAsync(await ServerFixture.NewDataSourceAsync(dialect));
        var api = new Api(server.Client);
        var balances = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            balances.Add(await api.CreateBalanceAsync());
            await api.FundAsync(balances[i], 1_000_000);
        }
        var acknowledged = await SigkillLoad.RunAsync(server, TimeSpan.FromMilliseconds(1500), (random, reference) =>
        {
            var from = balances[random.Next(4)];
            var to = balances.First(balance => balance != from);
            return api.TransferAsync(from, to, random.Next(1, 100), reference: reference);
        });
        Assert.NotEmpty(acknowledged);

        await server.RestartAsync();
        foreach (var reference in acknowledged)
        {
            var row = await api.GetAsync($"transactions/reference/{reference}");
            Assert.True(row.Status == HttpStatusCode.OK, $"acknowledged {reference} is missing after the crash");
            Assert.Equal("APPLIED", row.Str("status"));
        }
        var total = 0L;
        foreach (var balance in balances)
        {
            total += (long)await api.BalanceOfAsync(balance);
        }
        Assert.Equal(4_000_000, total);
    }

    /// <summary>A source funded with 100, and a transfer of 30 from it due <paramref name="dueIn"/> from now.</summary>
    private static async Task<(string Source, string Reference)> ScheduleTransferAsync(Api api, TimeSpan dueIn)
    {
        var source = await api.CreateBalanceAsync();
        var destination = await api.CreateBalanceAsync();
        await api.FundAsync(source, 100);
        var reference = "scheduled-" + Guid.NewGuid();
        var due = DateTime.UtcNow.Add(dueIn).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'",
            System.Globalization.CultureInfo.InvariantCulture);
        var scheduled = await api.PostAsync("transactions", new
        {
            precise_amount = 30, precision = 100, currency = "USD", reference, description = "d", source,
            destination, scheduled_for = due,
        });
        Assert.Equal(HttpStatusCode.Created, scheduled.Status);
        return (source, reference);
    }
}
