using System.Globalization;
using System.Net;
using Blnk.TestSupport;

namespace Blnk.Server.Tests;

// Covers the default (queued) path on both storages: the QUEUED row answered at once, the "<ref>_q"
// outcome row written by the writer (with the accept when it keeps up) or the queue processor, rejections,
// with_queued and scheduling.
public sealed class QueuedTransactionTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Queued_transfer_is_applied_as_a_q_child(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.CreateBalanceAsync();
        var destination = await api.CreateBalanceAsync();
        await api.FundAsync(source, 1000);
        var reference = "q-" + Guid.NewGuid();
        var queued = await api.TransferAsync(source, destination, 250, skipQueue: false, reference: reference);
        Assert.Equal(HttpStatusCode.Created, queued.Status);
        Assert.Equal("QUEUED", queued.Str("status"));
        var queuedId = queued.Str("transaction_id");
        Assert.Equal(queuedId, queued.Body.GetProperty("meta_data").GetProperty("QUEUED_PARENT_TRANSACTION").GetString());

        var child = await api.WaitForReferenceAsync(reference + "_q");
        Assert.Equal(HttpStatusCode.OK, child.Status);
        Assert.Equal("APPLIED", child.Str("status"));
        Assert.Equal(queuedId, child.Str("parent_transaction"));
        Assert.Equal(queued.Str("hash"), child.Str("hash"));
        Assert.NotEqual(queuedId, child.Str("transaction_id"));
        Assert.Equal(750, await api.BalanceOfAsync(source));
        Assert.Equal(250, await api.BalanceOfAsync(destination));
        // The original row stays QUEUED: rows are append-only.
        Assert.Equal("QUEUED", (await api.GetAsync($"transactions/{queuedId}")).Str("status"));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Queued_indicator_is_echoed_then_resolved(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var destination = await api.CreateBalanceAsync();
        var reference = "qi-" + Guid.NewGuid();
        var queued = await api.PostAsync("transactions", new
        {
            amount = 10, precision = 100, currency = "USD", reference, description = "d", source = "@World",
            destination, allow_overdraft = true,
        });
        Assert.Equal("@World", queued.Str("source"));
        Assert.True(queued.Body.GetProperty("meta_data").GetProperty("allow_overdraft").GetBoolean());
        var child = await api.WaitForReferenceAsync(reference + "_q");
        Assert.Equal("APPLIED", child.Str("status"));
        Assert.StartsWith("bln_", child.Str("source"));
        Assert.Equal(1000, await api.BalanceOfAsync(destination));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Queued_insufficient_funds_writes_a_rejected_child(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.CreateBalanceAsync();
        var destination = await api.CreateBalanceAsync();
        var reference = "qr-" + Guid.NewGuid();
        var queued = await api.TransferAsync(source, destination, 1, skipQueue: false, reference: reference);
        Assert.Equal(HttpStatusCode.Created, queued.Status);
        var child = await api.WaitForReferenceAsync(reference + "_q");
        Assert.Equal("REJECTED", child.Str("status"));
        Assert.Equal("insufficient funds in source balance",
            child.Body.GetProperty("meta_data").GetProperty("blnk_rejection_reason").GetString());
        Assert.Equal(0, await api.BalanceOfAsync(source));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Queued_inflight_hold_becomes_an_inflight_child(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.CreateBalanceAsync();
        var destination = await api.CreateBalanceAsync();
        await api.FundAsync(source, 100);
        var reference = "qh-" + Guid.NewGuid();
        var queued = await api.PostAsync("transactions", new
        {
            precise_amount = 60, precision = 100, currency = "USD", reference, description = "d", source,
            destination, inflight = true,
        });
        Assert.True(queued.Body.GetProperty("inflight").GetBoolean());
        var child = await api.WaitForReferenceAsync(reference + "_q");
        Assert.Equal("INFLIGHT", child.Str("status"));
        var balance = await api.GetAsync($"balances/{source}");
        Assert.Equal(60, (int)balance.Money("inflight_debit_balance"));
        Assert.Equal(100, (int)balance.Money("balance"));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Scheduled_transfer_waits_for_its_time(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.CreateBalanceAsync();
        var destination = await api.CreateBalanceAsync();
        await api.FundAsync(source, 100);
        var reference = "qs-" + Guid.NewGuid();
        var due = DateTime.UtcNow.AddSeconds(3);
        var scheduled = await api.PostAsync("transactions", new
        {
            precise_amount = 40, precision = 100, currency = "USD", reference, description = "d", source,
            destination, scheduled_for = due.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture),
        });
        Assert.Equal(HttpStatusCode.Created, scheduled.Status);
        Assert.Equal("SCHEDULED", scheduled.Str("status"));
        // As in Blnk, with_queued counts QUEUED rows only, not SCHEDULED ones.
        var pending = await api.GetAsync($"balances/{source}?with_queued=true");
        Assert.Equal(0, (int)pending.Money("queued_debit_balance"));
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetAsync($"transactions/reference/{reference}_q")).Status);

        var child = await api.WaitForReferenceAsync(reference + "_q", TimeSpan.FromSeconds(20));
        Assert.Equal("APPLIED", child.Str("status"));
        Assert.True(DateTime.Parse(child.Str("created_at"), System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AdjustToUniversal) >= due.AddSeconds(-1));
        var after = await api.GetAsync($"balances/{source}?with_queued=true");
        Assert.Equal(0, (int)after.Money("queued_debit_balance"));
        Assert.Equal(60, (int)after.Money("balance"));
    }

    /// <summary>
    /// A writer that keeps up applies a queued transfer in the batch that accepts it: no queue entry is written
    /// (a trigger counts them), and the outcome is there as soon as the 201 is. A scheduled transfer still waits
    /// in the queue, which shows the trigger counts. A <c>_q</c> reference already taken drops the outcome, as a
    /// claimed entry's would, without failing the accept.
    /// </summary>
    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_writer_that_keeps_up_applies_a_queued_transfer_with_its_accept(string dialect)
    {
        var dataSource = await ServerFixture.NewDataSourceAsync(dialect);
        await using var server = await ServerProcess.StartAsync(dataSource);
        var api = new Api(server.Client);
        var source = await api.CreateBalanceAsync();
        var destination = await api.CreateBalanceAsync();
        await api.FundAsync(source, 1000);
        var taken = "qt-" + Guid.NewGuid();
        await api.TransferAsync(source, destination, 1, reference: taken + "_q");
        await using var connection = await TestStores.OpenRawConnectionAsync(dataSource);
        await InsertProbe.InstallAsync(connection, dialect, "transaction_queue");

        var applied = await api.TransferAsync(source, destination, 250, false, "qa-" + Guid.NewGuid());
        var refused = await api.TransferAsync(source, destination, 5000, false, "qr-" + Guid.NewGuid());
        var dropped = await api.TransferAsync(source, destination, 7, false, taken);
        Assert.All(new[] { applied, refused, dropped }, accept => Assert.Equal("QUEUED", accept.Str("status")));

        var appliedChild = await api.GetAsync($"transactions/reference/{applied.Str("reference")}_q");
        Assert.Equal("APPLIED", appliedChild.Str("status"));
        Assert.Equal(applied.Str("transaction_id"), appliedChild.Str("parent_transaction"));
        var refusedChild = await api.GetAsync($"transactions/reference/{refused.Str("reference")}_q");
        Assert.Equal("REJECTED", refusedChild.Str("status"));
        Assert.Equal("", (await api.GetAsync($"transactions/reference/{taken}_q")).Str("parent_transaction"));
        Assert.Equal(749, await api.BalanceOfAsync(source));
        var withQueued = await api.GetAsync($"balances/{source}?with_queued=true");
        Assert.Equal(0, (int)withQueued.Money("queued_debit_balance"));
        Assert.Equal(0L, await InsertProbe.CountAsync(connection, "transaction_queue"));

        var scheduled = await api.PostAsync("transactions", new
        {
            precise_amount = 40, precision = 100, currency = "USD", reference = "qs-" + Guid.NewGuid(),
            description = "d", source, destination,
            scheduled_for = DateTime.UtcNow.AddHours(1).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
        });
        Assert.Equal("SCHEDULED", scheduled.Str("status"));
        Assert.Equal(1L, await InsertProbe.CountAsync(connection, "transaction_queue"));
    }
}
