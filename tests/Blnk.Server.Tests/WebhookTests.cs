using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Blnk.Core.Hooks;
using Blnk.Core.Monitors;
using Blnk.Storage;
using Blnk.TestSupport;

namespace Blnk.Server.Tests;

// Webhooks, monitor callbacks and hooks delivered from the outbox to a real HTTP receiver: signed, in order
// per entity, retried, every attempt recorded, and nothing lost while the receiver or the server is down.
// Each test owns its server (the webhook URL is process configuration).
public sealed class WebhookTests
{
    private const string SecretKey = "webhook-test-secret";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Every_event_arrives_signed_with_blnks_body(string dialect)
    {
        await using var receiver = WebhookReceiver.Start();
        await using var host = await StartAsync(dialect, receiver);
        var api = host.Api;

        var ledger = (await api.PostAsync("ledgers", new { name = "Hooked" })).Str("ledger_id");
        var source = await api.CreateBalanceAsync(ledgerId: ledger);
        var destination = await api.CreateBalanceAsync(ledgerId: ledger);
        await api.FundAsync(source, 500);
        var queued = "queued-" + Guid.NewGuid();
        Assert.Equal(HttpStatusCode.Created, (await api.TransferAsync(source, destination, 100, skipQueue: false,
            reference: queued)).Status);
        var rejected = "rejected-" + Guid.NewGuid();
        await api.TransferAsync(source, destination, 10_000, skipQueue: false, reference: rejected);
        var hold = await api.PostAsync("transactions", new
        {
            precise_amount = 50, precision = 100, currency = "USD", reference = "hold-" + Guid.NewGuid(),
            description = "hold", source, destination, inflight = true, skip_queue = true,
        });
        Assert.Equal(HttpStatusCode.OK, (await api.PutAsync($"transactions/inflight/{hold.Str("transaction_id")}",
            new { status = "void" })).Status);

        var events = await receiver.WaitForAsync(received =>
            Has(received, "transaction.void") && HasReference(received, "transaction.rejected", rejected + "_q")
            && HasReference(received, "transaction.applied", queued + "_q"), Patience, "every event");

        Assert.Contains(events, request => request.Event == "ledger.created"
            && request.Json.GetProperty("data").GetProperty("ledger_id").GetString() == ledger);
        Assert.Equal(2, events.Count(request => request.Event == "balance.created"
            && request.Json.GetProperty("data").GetProperty("ledger_id").GetString() == ledger));
        Assert.True(HasReference(events, "transaction.queued", queued));
        Assert.True(Has(events, "transaction.inflight"));
        var rejection = events.Single(request => Reference(request) == rejected + "_q").Json.GetProperty("data");
        Assert.False(string.IsNullOrEmpty(rejection.GetProperty("meta_data").GetProperty("blnk_rejection_reason").GetString()));
        Assert.All(events, AssertSigned);
        // One entity's events arrive in the order they happened.
        var queuedOrder = events.Select(Reference).ToList();
        Assert.True(queuedOrder.IndexOf(queued) < queuedOrder.IndexOf(queued + "_q"));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_receiver_that_is_down_gets_every_event_later_and_each_attempt_is_recorded(string dialect)
    {
        await using var receiver = WebhookReceiver.Start();
        await receiver.DownAsync();
        await using var host = await StartAsync(dialect, receiver);
        var api = host.Api;
        var dataSource = host.DataSource;
        var (source, destination) = await FundedPairAsync(api, 1_000);
        var references = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            references.Add("down-" + i + "-" + Guid.NewGuid());
            Assert.Equal(HttpStatusCode.Created,
                (await api.TransferAsync(source, destination, 1, reference: references[^1])).Status);
        }
        await using var store = LedgerStoreFactory.Create(dataSource);
        await WaitUntilAsync(async () => (await store.ListDeliveryAttemptsAsync(1_000, CancellationToken.None))
            .Any(attempt => attempt.Attempt >= 2), "failed attempts to be retried");

        receiver.Up();

        await receiver.WaitForAsync(received => references.All(reference =>
            HasReference(received, "transaction.applied", reference)), Patience, "all 20 transfers");
        var attempts = await store.ListDeliveryAttemptsAsync(10_000, CancellationToken.None);
        Assert.Contains(attempts, attempt => attempt.StatusCode is null && attempt.Error is { Length: > 0 });
        Assert.All(attempts.GroupBy(attempt => attempt.Seq), delivery =>
            Assert.Equal(Enumerable.Range(1, delivery.Count()), delivery.Select(attempt => attempt.Attempt)));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Events_survive_a_server_crash_while_the_receiver_is_down(string dialect)
    {
        await using var receiver = WebhookReceiver.Start();
        await receiver.DownAsync();
        await using var host = await StartAsync(dialect, receiver);
        var api = host.Api;
        var (source, destination) = await FundedPairAsync(api, 100);
        var reference = "crash-" + Guid.NewGuid();
        Assert.Equal(HttpStatusCode.Created, (await api.TransferAsync(source, destination, 7, reference: reference)).Status);

        host.Server.Kill();
        receiver.Up();
        await host.Server.RestartAsync();

        // Different entities arrive in no promised order: wait for all of them.
        await receiver.WaitForAsync(received => HasReference(received, "transaction.applied", reference)
            && received.Count(request => request.Event == "balance.created"
                && request.Json.GetProperty("data").GetProperty("balance_id").GetString() is { } id
                && (id == source || id == destination)) == 2,
            2 * Patience, "the transfer and both balances made before the crash");
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_receiver_error_is_retried_until_it_accepts(string dialect)
    {
        await using var receiver = WebhookReceiver.Start();
        var refusals = 0;
        receiver.Answer = (_, body) => body.Contains("flaky-", StringComparison.Ordinal) && Interlocked.Increment(ref refusals) <= 2
            ? (503, "busy")
            : (200, "");
        await using var host = await StartAsync(dialect, receiver);
        var api = host.Api;
        var dataSource = host.DataSource;
        var balance = await api.CreateBalanceAsync();
        var reference = "flaky-" + Guid.NewGuid();
        await api.PostAsync("transactions", new
        {
            precise_amount = 5, precision = 100, currency = "USD", reference, description = "d", source = "@World",
            destination = balance, allow_overdraft = true, skip_queue = true,
        });

        await receiver.WaitForAsync(received => HasReference(received, "transaction.applied", reference), Patience,
            "the flaky event");
        Assert.Equal(3, receiver.Received.Count(request => Reference(request) == reference));
        await using var store = LedgerStoreFactory.Create(dataSource);
        var attempts = (await store.ListDeliveryAttemptsAsync(10_000, CancellationToken.None))
            .Where(attempt => attempt.StatusCode == 503).ToList();
        Assert.Equal(2, attempts.Count);
        Assert.All(attempts, attempt => Assert.Contains("busy", attempt.Error, StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_receiver_whose_answer_never_ends_has_its_delivery_counted_once_its_status_arrives(
        string dialect)
    {
        await using var receiver = WebhookReceiver.Start();
        receiver.AnswersEndlessly = true;
        await using var host = await StartAsync(dialect, receiver);
        var balance = await host.Api.CreateBalanceAsync();
        var reference = "endless-" + Guid.NewGuid();
        await host.Api.PostAsync("transactions", new
        {
            precise_amount = 5, precision = 100, currency = "USD", reference, description = "d", source = "@World",
            destination = balance, allow_overdraft = true, skip_queue = true,
        });

        await receiver.WaitForAsync(received => HasReference(received, "transaction.applied", reference), Patience,
            "the event");
        var attempts = await WaitForAttemptAsync(host.DataSource, "transaction.applied");
        // Only the start of the body is read: the delivery succeeded, rather than timing out reading the rest.
        Assert.All(attempts, attempt => Assert.Null(attempt.Error));
        Assert.Single(receiver.Received, request => Reference(request) == reference);
    }

    /// <summary>Every recorded attempt, once one for <paramref name="eventName"/> is among them.</summary>
    private static async Task<IReadOnlyList<DeliveryAttemptRecord>> WaitForAttemptAsync(string dataSource,
        string eventName)
    {
        await using var store = LedgerStoreFactory.Create(dataSource);
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var attempts = await store.ListDeliveryAttemptsAsync(10_000, CancellationToken.None);
            if (attempts.Any(attempt => attempt.Event == eventName) || DateTime.UtcNow > deadline)
            {
                return attempts;
            }
            await Task.Delay(100);
        }
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Monitors_call_the_webhook_and_their_callback_level_every_time_edge_once(string dialect)
    {
        await using var receiver = WebhookReceiver.Start();
        await using var host = await StartAsync(dialect, receiver);
        var api = host.Api;
        var dataSource = host.DataSource;
        var balance = await api.CreateBalanceAsync();
        await using var store = LedgerStoreFactory.Create(dataSource);
        var level = Monitor(balance, MonitorTrigger.Level, receiver.Url + "level");
        var edge = Monitor(balance, MonitorTrigger.Edge, receiver.Url + "edge");
        Assert.True(await store.InsertMonitorAsync(level, CancellationToken.None));
        Assert.True(await store.InsertMonitorAsync(edge, CancellationToken.None));
        await Task.Delay(TimeSpan.FromSeconds(1.5)); // the server reloads monitors every second

        await api.FundAsync(balance, 50);   // balance 50: not above 100
        await api.FundAsync(balance, 100);  // 150: both fire
        await api.FundAsync(balance, 10);   // 160: level fires again, edge does not

        var received = await receiver.WaitForAsync(requests =>
            requests.Count(request => request.Path == "/level") == 2, Patience, "two level callbacks");
        await Task.Delay(500);
        Assert.Single(receiver.Accepted, request => request.Path == "/edge");
        Assert.Equal(3, receiver.Accepted.Count(request => request.Path == "/" && request.Event == "balance.monitor"));
        var data = received.First(request => request.Path == "/level").Json.GetProperty("data");
        Assert.Equal(level.MonitorId, data.GetProperty("monitor_id").GetString());
        Assert.Equal("balance", data.GetProperty("condition").GetProperty("field").GetString());
        Assert.All(receiver.Accepted, AssertSigned);
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Hooks_are_called_signed_and_a_refusing_hook_is_retried_then_given_up(string dialect)
    {
        await using var receiver = WebhookReceiver.Start();
        receiver.Answer = (path, _) => path == "/refusing" ? (200, """{"success": false, "message": "no"}""") : (200, """{"success": true}""");
        await using var host = await StartAsync(dialect, receiver);
        var api = host.Api;
        var dataSource = host.DataSource;
        await using var store = LedgerStoreFactory.Create(dataSource);
        var pre = Hook(HookType.PreTransaction, receiver.Url + "pre", retryCount: 0);
        var refusing = Hook(HookType.PostTransaction, receiver.Url + "refusing", retryCount: 2);
        await store.InsertHookAsync(pre, CancellationToken.None);
        await store.InsertHookAsync(refusing, CancellationToken.None);
        await Task.Delay(TimeSpan.FromSeconds(1.5)); // the server reloads hooks every second
        var balance = await api.CreateBalanceAsync();
        await api.FundAsync(balance, 25);

        await receiver.WaitForAsync(_ => receiver.Received.Count(request => request.Path == "/refusing") == 3
            && receiver.Received.Any(request => request.Path == "/pre"), Patience, "hook calls");
        var call = receiver.Received.First(request => request.Path == "/pre");
        Assert.Equal(pre.HookId, call.Header("X-Hook-ID"));
        Assert.Equal(HookType.PreTransaction, call.Header("X-Hook-Type"));
        Assert.Equal(HookType.PreTransaction, call.Json.GetProperty("hook_type").GetString());
        Assert.Equal(call.Json.GetProperty("data").GetProperty("transaction_id").GetString(),
            call.Json.GetProperty("transaction_id").GetString());
        AssertSigned(call);
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(3, receiver.Received.Count(request => request.Path == "/refusing"));
        Assert.False((await store.GetHookAsync(refusing.HookId, CancellationToken.None))!.LastSuccess);
        var calledPre = await store.GetHookAsync(pre.HookId, CancellationToken.None);
        Assert.True(calledPre!.LastSuccess);
        Assert.NotNull(calledPre.LastRun);
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task An_async_bulk_reports_its_outcome(string dialect)
    {
        await using var receiver = WebhookReceiver.Start();
        await using var host = await StartAsync(dialect, receiver);
        var api = host.Api;
        var (source, destination) = await FundedPairAsync(api, 100);
        object Line(long amount) => new
        {
            precise_amount = amount, precision = 100, currency = "USD", reference = "bulk-" + Guid.NewGuid(),
            description = "d", source, destination,
        };

        var applied = await api.PostAsync("transactions/bulk", new
        {
            transactions = new[] { Line(10), Line(20) }, run_async = true, skip_queue = true, atomic = true,
        });
        var failed = await api.PostAsync("transactions/bulk", new
        {
            transactions = new[] { Line(10), Line(1_000) }, run_async = true, skip_queue = true, atomic = true,
        });
        Assert.Equal(HttpStatusCode.Accepted, applied.Status);
        Assert.Equal(HttpStatusCode.Accepted, failed.Status);

        var events = await receiver.WaitForAsync(received =>
            received.Count(request => request.Event.StartsWith("bulk_transaction.", StringComparison.Ordinal)) == 2,
            Patience, "both bulk outcomes");
        AssertBulkEvent(events, "bulk_transaction.applied", applied.Str("batch_id"), data =>
            Assert.Equal(2, data.GetProperty("transaction_count").GetInt32()));
        AssertBulkEvent(events, "bulk_transaction.failed", failed.Str("batch_id"), data =>
            Assert.False(string.IsNullOrEmpty(data.GetProperty("error").GetString())));
        Assert.Equal(70, await api.BalanceOfAsync(source));
    }

    private static void AssertBulkEvent(IReadOnlyList<ReceivedRequest> events, string eventName, string batchId,
        Action<System.Text.Json.JsonElement> check)
    {
        var data = events.Single(request => request.Event == eventName).Json.GetProperty("data");
        Assert.Equal(batchId, data.GetProperty("batch_id").GetString());
        check(data);
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Without_a_webhook_url_nothing_is_recorded(string dialect)
    {
        var dataSource = await ServerFixture.NewDataSourceAsync(dialect);
        await using var server = await ServerProcess.StartAsync(dataSource);
        var api = new Api(server.Client);
        var balance = await api.CreateBalanceAsync();
        await api.FundAsync(balance, 5);

        await using var store = LedgerStoreFactory.Create(dataSource);
        var now = DateTime.UtcNow.AddMinutes(1);
        Assert.Empty(await store.ClaimDeliveriesAsync(100, now, now.AddMinutes(1), CancellationToken.None));
    }

    /// <summary>A server of its own that posts webhooks to <paramref name="receiver"/>, signed, retrying fast.</summary>
    private static async Task<WebhookHost> StartAsync(string dialect, WebhookReceiver receiver)
    {
        var dataSource = await ServerFixture.NewDataSourceAsync(dialect);
        var server = await ServerProcess.StartAsync(dataSource, new Dictionary<string, string>
        {
            ["BLNK_WEBHOOK_URL"] = receiver.Url,
            ["BLNK_WEBHOOK_HEADERS"] = "X-Test-Header:present",
            ["BLNK_SERVER_SECRET_KEY"] = SecretKey,
            ["BLNK_WEBHOOK_RETRY_BASE_MS"] = "100",
            ["BLNK_WEBHOOK_RETRY_MAX_MS"] = "400",
            // A crash mid-delivery holds that delivery until its lease (timeout + 15 s) runs out.
            ["BLNK_WEBHOOK_TIMEOUT_MS"] = "2000",
        });
        return new WebhookHost(server, dataSource);
    }

    /// <summary>A source holding <paramref name="preciseAmount"/> and an empty destination.</summary>
    private static async Task<(string Source, string Destination)> FundedPairAsync(Api api, long preciseAmount)
    {
        var source = await api.CreateBalanceAsync();
        await api.FundAsync(source, preciseAmount);
        return (source, await api.CreateBalanceAsync());
    }

    private sealed class WebhookHost(ServerProcess server, string dataSource) : IAsyncDisposable
    {
        public ServerProcess Server => server;
        public string DataSource => dataSource;
        public Api Api { get; } = new(server.Client);

        public ValueTask DisposeAsync() => server.DisposeAsync();
    }

    /// <summary>Checks the signature as a receiver would: HMAC-SHA256 over "&lt;timestamp&gt;.&lt;body&gt;".</summary>
    private static void AssertSigned(ReceivedRequest request)
    {
        var timestamp = request.Header("X-Blnk-Timestamp");
        Assert.NotNull(timestamp);
        var age = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - long.Parse(timestamp, CultureInfo.InvariantCulture);
        Assert.InRange(age, -5, 120);
        var expected = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(SecretKey),
            Encoding.UTF8.GetBytes($"{timestamp}.{request.Body}")));
        Assert.Equal(expected, request.Header("X-Blnk-Signature"));
        Assert.True(long.TryParse(request.Header("X-Blnk-Delivery-Id"), CultureInfo.InvariantCulture, out _));
        if (request.Path == "/")
        {
            Assert.Equal("present", request.Header("X-Test-Header"));
        }
    }

    private static BalanceMonitor Monitor(string balanceId, string trigger, string callback) => new()
    {
        MonitorId = "mon_" + Guid.NewGuid(),
        BalanceId = balanceId,
        Condition = new MonitorCondition("balance", ">", 1, 100, 100),
        CallBackUrl = callback,
        Trigger = trigger,
        CreatedAt = DateTime.UtcNow,
    };

    private static Hook Hook(string type, string url, int retryCount) => new()
    {
        HookId = "hook_" + Guid.NewGuid(),
        Name = type,
        Url = url,
        Type = type,
        Active = true,
        TimeoutSeconds = 5,
        RetryCount = retryCount,
        CreatedAt = DateTime.UtcNow,
    };

    private static bool Has(IReadOnlyList<ReceivedRequest> received, string eventName) =>
        received.Any(request => request.Path == "/" && request.Event == eventName);

    private static bool HasReference(IReadOnlyList<ReceivedRequest> received, string eventName, string reference) =>
        received.Any(request => request.Path == "/" && request.Event == eventName && Reference(request) == reference);

    private static string? Reference(ReceivedRequest request) =>
        request.Json.TryGetProperty("data", out var data) && data.TryGetProperty("reference", out var reference)
            ? reference.GetString()
            : null;

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(100);
        }
    }
}
