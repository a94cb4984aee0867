using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Blnk.Core.Delivery;
using Blnk.Core.Hooks;
using Blnk.Server.Configuration;
using Blnk.Server.Features.Hooks;
using Blnk.Server.Json;
using Blnk.Storage;

namespace Blnk.Server.Features.Webhooks;

/// <summary>
/// Delivers the outbox: leases due deliveries (several processes may share the work), posts each to its
/// target, and records every attempt. A failed delivery is retried with capped exponential backoff until its
/// attempts run out; later events of the same entity wait for it, so they arrive in order. Runs beside the
/// writer on its own connections: a slow or absent receiver never slows transfers.
/// </summary>
public sealed class WebhookDispatcher(ILedgerStore store, BlnkConfiguration configuration, HookRegistry hooks,
    TimeProvider clock, ILogger<WebhookDispatcher> logger) : BackgroundService
{
    public const string DeliveryIdHeader = "X-Blnk-Delivery-Id";

    // A round sends every delivery it claims at once, so one lease covers the whole round.
    private const int DeliveriesPerRound = 16;
    private const int ErrorTextMax = 500;

    /// <summary>
    /// How much of an answer's body is read: enough for a hook's <c>{"success": false}</c> and for the start an
    /// error reports, and a bound on what a receiver can make the server hold (or wait for: a body that never
    /// ends is cut, not waited out).
    /// </summary>
    private const int AnswerBodyMax = 64 * 1024;
    private static readonly TimeSpan IdlePoll = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan PruneInterval = TimeSpan.FromMinutes(10);
    private const int PruneChunk = 5_000;

    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        AllowAutoRedirect = false,
    }) { Timeout = Timeout.InfiniteTimeSpan };

    private WebhookSettings Settings => configuration.Webhook;

    /// <summary>
    /// A lease outlives the longest call of a round (a hook waits up to its own timeout; a round's calls run
    /// together) and no more: after a crash, the deliveries the dead process held are retried once their lease
    /// runs out.
    /// </summary>
    private TimeSpan Lease => (Settings.Timeout > hooks.LongestTimeout ? Settings.Timeout : hooks.LongestTimeout)
        + TimeSpan.FromSeconds(15);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var pruneDue = DateTime.MinValue;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (Clock.Now(clock) >= pruneDue)
                {
                    // Set first: a prune that fails waits for the next interval instead of blocking deliveries.
                    pruneDue = Clock.Now(clock) + PruneInterval;
                    await PruneAsync(stoppingToken);
                }
                var claimed = await DeliverDueAsync(stoppingToken);
                if (claimed == 0)
                {
                    await Task.Delay(IdlePoll, clock, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                logger.LogWarning(exception, "Webhook delivery round failed; retrying shortly");
                await Task.Delay(IdlePoll, clock, stoppingToken);
            }
        }
    }

    /// <summary>Removes finished deliveries older than the retention, a bounded chunk per statement.</summary>
    private async Task PruneAsync(CancellationToken cancellationToken)
    {
        var before = Clock.Now(clock) - Settings.Retention;
        int removed;
        do
        {
            removed = await store.PruneDeliveriesAsync(before, PruneChunk, cancellationToken);
        }
        while (removed == PruneChunk);
    }

    public override void Dispose()
    {
        _http.Dispose();
        base.Dispose();
    }

    private async Task<int> DeliverDueAsync(CancellationToken cancellationToken)
    {
        var now = Clock.Now(clock);
        var deliveries = await store.ClaimDeliveriesAsync(DeliveriesPerRound, now, now + Lease, cancellationToken);
        if (deliveries.Count == 0)
        {
            return 0;
        }
        if (deliveries.Any(delivery => delivery is { Target: OutboxTarget.Hook, HookId: { } hookId }
            && hooks.Find(hookId) is null))
        {
            // Another process may have recorded a call to a hook created less than a reload ago.
            await hooks.RefreshAsync(cancellationToken);
        }
        var attempts = await Task.WhenAll(deliveries.Select(delivery => AttemptOrFailAsync(delivery, cancellationToken)));
        await store.RecordDeliveryAttemptsAsync(attempts, CancellationToken.None);
        await RecordHookRunsAsync(deliveries, attempts);
        return deliveries.Count;
    }

    /// <summary>An attempt whatever happens: an unexpected failure counts as a failed attempt of this delivery
    /// alone, so the round's other attempts are still recorded.</summary>
    private async Task<DeliveryAttempt> AttemptOrFailAsync(OutboxDelivery delivery,
        CancellationToken cancellationToken)
    {
        var started = Clock.Now(clock);
        try
        {
            return await AttemptAsync(delivery, started, cancellationToken);
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(exception, "Delivery {Seq} ({Event}) failed unexpectedly", delivery.Seq, delivery.Event);
            return Failed(delivery, started, null, Truncate(exception.Message), 0, Settings.MaxAttempts);
        }
    }

    private async Task<DeliveryAttempt> AttemptAsync(OutboxDelivery delivery, DateTime started,
        CancellationToken cancellationToken)
    {
        var attempt = delivery.Attempts + 1;
        if (Resolve(delivery, out var unreachable) is not { } target)
        {
            return new DeliveryAttempt(delivery.Seq, attempt, started, null, unreachable, 0, Delivered: false,
                GiveUp: true, null);
        }
        var stopwatch = Stopwatch.StartNew();
        var (statusCode, error) = await PostAsync(delivery, target, cancellationToken);
        var durationMs = (int)stopwatch.ElapsedMilliseconds;
        if (error is null)
        {
            return new DeliveryAttempt(delivery.Seq, attempt, started, statusCode, null, durationMs, Delivered: true,
                GiveUp: false, null);
        }
        return Failed(delivery, started, statusCode, error, durationMs, target.MaxAttempts);
    }

    /// <summary>A failed attempt: retried after the backoff, or given up once the attempts run out.</summary>
    private DeliveryAttempt Failed(OutboxDelivery delivery, DateTime started, int? statusCode, string error,
        int durationMs, int maxAttempts)
    {
        var attempt = delivery.Attempts + 1;
        var giveUp = attempt >= maxAttempts;
        var retryAt = giveUp ? (DateTime?)null : started + RetrySchedule.DelayAfter(attempt, Settings.RetryBase, Settings.RetryMax);
        if (giveUp)
        {
            logger.LogWarning("Delivery {Seq} ({Event}) to {Target} given up after {Attempts} attempts: {Error}",
                delivery.Seq, delivery.Event, delivery.Target, attempt, error);
        }
        return new DeliveryAttempt(delivery.Seq, attempt, started, statusCode, error, durationMs, Delivered: false,
            giveUp, retryAt);
    }

    private async Task<(int? StatusCode, string? Error)> PostAsync(OutboxDelivery delivery, DeliveryTarget target,
        CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(target.Timeout);
        try
        {
            using var request = BuildRequest(delivery, target);
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead,
                timeout.Token);
            var body = await ReadAnswerStartAsync(response.Content, timeout.Token);
            var status = (int)response.StatusCode;
            if (!response.IsSuccessStatusCode)
            {
                return (status, $"HTTP {status}: {Truncate(body)}");
            }
            return target.Hook is not null && HookRefused(body) ? (status, $"hook answered success=false: {Truncate(body)}") : (status, null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, $"no answer within {target.Timeout.TotalSeconds:0.###} s");
        }
        catch (HttpRequestException exception)
        {
            return (null, Truncate(exception.Message));
        }
    }

    /// <summary>At most <see cref="AnswerBodyMax"/> bytes of the body, as UTF-8 text; the rest is never read.</summary>
    private static async Task<string> ReadAnswerStartAsync(HttpContent content, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        var buffer = ArrayPool<byte>.Shared.Rent(AnswerBodyMax);
        try
        {
            var length = 0;
            int read;
            while (length < AnswerBodyMax
                   && (read = await stream.ReadAsync(buffer.AsMemory(length, AnswerBodyMax - length),
                       cancellationToken)) > 0)
            {
                length += read;
            }
            return Encoding.UTF8.GetString(buffer, 0, length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private HttpRequestMessage BuildRequest(OutboxDelivery delivery, DeliveryTarget target)
    {
        var body = target.Hook is not null ? HookBody(delivery) : WebhookBody(delivery);
        var request = new HttpRequestMessage(HttpMethod.Post, target.Url)
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        if (configuration.SecretKey is { Length: > 0 } secret)
        {
            var timestamp = clock.GetUtcNow().ToUnixTimeSeconds();
            request.Headers.Add(WebhookSignature.TimestampHeader, timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
            request.Headers.Add(WebhookSignature.SignatureHeader, WebhookSignature.Compute(secret, timestamp, body));
        }
        // Not Blnk's: lets a receiver drop a delivery it already processed (delivery is at least once).
        request.Headers.Add(DeliveryIdHeader, delivery.Seq.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (target.Hook is { } calledHook)
        {
            request.Headers.Add("X-Hook-ID", calledHook.HookId);
            request.Headers.Add("X-Hook-Type", delivery.Event);
        }
        foreach (var (name, value) in target.Headers)
        {
            request.Headers.Remove(name);
            request.Headers.TryAddWithoutValidation(name, value);
        }
        return request;
    }

    /// <summary><c>{"event": …, "data": …}</c> — the stored payload is inserted as it was written.</summary>
    private static string WebhookBody(OutboxDelivery delivery) =>
        $"{{\"event\":{JsonSerializer.Serialize(delivery.Event, Wire.Context.String)},\"data\":{delivery.PayloadJson}}}";

    /// <summary>
    /// §4.9: <c>{"transaction_id", "hook_type", "timestamp", "data"}</c>. The hook type is the one the call was
    /// recorded for (its event), even if the hook was changed since.
    /// </summary>
    private string HookBody(OutboxDelivery delivery)
    {
        using var payload = JsonDocument.Parse(delivery.PayloadJson);
        var transactionId = payload.RootElement.TryGetProperty("transaction_id", out var id) ? id.GetString() ?? "" : "";
        string Quote(string text) => JsonSerializer.Serialize(text, Wire.Context.String);
        return $"{{\"transaction_id\":{Quote(transactionId)},\"hook_type\":{Quote(delivery.Event)}," +
            $"\"timestamp\":{Quote(BlnkTimeJsonConverter.Format(Clock.Now(clock)))},\"data\":{delivery.PayloadJson}}}";
    }

    /// <summary>A hook answers success with 2xx and an empty or non-JSON body, or JSON <c>"success": true</c>.</summary>
    private static bool HookRefused(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("success", out var success)
                && success.ValueKind == JsonValueKind.False;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>Where a delivery goes now; null (with the reason) when it can never be delivered.</summary>
    private DeliveryTarget? Resolve(OutboxDelivery delivery, out string unreachable)
    {
        unreachable = "";
        switch (delivery.Target)
        {
            case OutboxTarget.Webhook when Settings.Url is { } url:
                return new DeliveryTarget(url, Settings.Headers, Settings.Timeout, Settings.MaxAttempts, null);
            case OutboxTarget.Webhook:
                unreachable = "no webhook URL is configured (notification.webhook.url)";
                return null;
            case OutboxTarget.Callback when Uri.TryCreate(delivery.Url, UriKind.Absolute, out var callback):
                return new DeliveryTarget(callback, EmptyHeaders, Settings.Timeout, Settings.MaxAttempts, null);
            case OutboxTarget.Hook when delivery.HookId is { } hookId && hooks.Find(hookId) is { } hook
                && Uri.TryCreate(hook.Url, UriKind.Absolute, out var hookUrl):
                return new DeliveryTarget(hookUrl, EmptyHeaders, TimeSpan.FromSeconds(hook.TimeoutSeconds),
                    hook.RetryCount + 1, hook);
            default:
                unreachable = $"{delivery.Target} target {delivery.HookId ?? delivery.Url} no longer exists or has no usable URL";
                return null;
        }
    }

    private async Task RecordHookRunsAsync(IReadOnlyList<OutboxDelivery> deliveries, DeliveryAttempt[] attempts)
    {
        for (var i = 0; i < deliveries.Count; i++)
        {
            if (deliveries[i] is { Target: OutboxTarget.Hook, HookId: { } hookId } && hooks.Find(hookId) is not null)
            {
                await store.RecordHookRunAsync(hookId, attempts[i].AttemptedAt, attempts[i].Delivered,
                    CancellationToken.None);
            }
        }
    }

    private static string Truncate(string text) => text.Length <= ErrorTextMax ? text : text[..ErrorTextMax];

    private static readonly IReadOnlyDictionary<string, string> EmptyHeaders = new Dictionary<string, string>();

    private sealed record DeliveryTarget(Uri Url, IReadOnlyDictionary<string, string> Headers, TimeSpan Timeout,
        int MaxAttempts, Hook? Hook);
}
