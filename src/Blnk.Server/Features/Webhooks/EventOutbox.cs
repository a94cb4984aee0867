using System.Text.Json;
using Blnk.Core.Hooks;
using Blnk.Core.Monitors;
using Blnk.Core.Transactions;
using Blnk.Server.Configuration;
using Blnk.Server.Features.Hooks;
using Blnk.Server.Json;
using Blnk.Storage;

namespace Blnk.Server.Features.Webhooks;

/// <summary>
/// Turns ledger changes into outbox deliveries (§8.1, decision 11): one to the global webhook when one is
/// configured, one to a firing monitor's <c>call_back_url</c>, and one per active transaction hook. Callers
/// write what this returns in the same database transaction as the change.
/// </summary>
public sealed class EventOutbox(BlnkConfiguration configuration, HookRegistry hooks)
{
    private bool WebhookConfigured => configuration.Webhook.Url is not null;

    /// <summary>An event for the global webhook only (ledgers, balances, identities, bulk batches).</summary>
    public IReadOnlyList<OutboxEvent> For(string eventName, string payloadJson, string entityKey) =>
        WebhookConfigured ? [new OutboxEvent(eventName, payloadJson, entityKey)] : [];

    /// <summary>§8.1 <c>system.error</c>: an internal failure of background work, <c>{"error", "time"}</c>.</summary>
    public IReadOnlyList<OutboxEvent> SystemError(string error, DateTime time)
    {
        var payload = new System.Text.Json.Nodes.JsonObject
        {
            ["error"] = error,
            ["time"] = BlnkTimeJsonConverter.Format(time),
        };
        return For("system.error", payload.ToJsonString(), "system");
    }

    /// <summary>Whether <see cref="AddTransaction"/> would write anything: lets the writer skip serialising.</summary>
    public bool WantsTransactions => WebhookConfigured || hooks.Any;

    /// <summary>
    /// <c>transaction.&lt;status&gt;</c> for the webhook, and for an applied, inflight or voided row a call to
    /// every active pre- and post-transaction hook (pre first).
    /// </summary>
    public void AddTransaction(List<OutboxEvent> events, TransactionRecord row)
    {
        var payload = JsonSerializer.Serialize(row.ToWire(), Wire.Context.TransactionResponse);
        // A transaction's events share its root (the queued original or the hold), so they arrive in order.
        var entityKey = row.ParentTransaction.Length > 0 ? row.ParentTransaction : row.TransactionId;
        if (WebhookConfigured)
        {
            events.Add(new OutboxEvent($"transaction.{row.Status.ToLowerInvariant()}", payload, entityKey));
        }
        if (row.Status is TransactionStatus.Applied or TransactionStatus.Inflight or TransactionStatus.Void)
        {
            AddHookCalls(events, HookType.PreTransaction, payload, entityKey);
            AddHookCalls(events, HookType.PostTransaction, payload, entityKey);
        }
    }

    /// <summary><c>balance.monitor</c> with the monitor as data, to the webhook and to the monitor's callback.</summary>
    public void AddMonitor(List<OutboxEvent> events, BalanceMonitor monitor)
    {
        const string eventName = "balance.monitor";
        var payload = JsonSerializer.Serialize(monitor.ToWire(), Wire.Monitors.MonitorResponse);
        if (WebhookConfigured)
        {
            events.Add(new OutboxEvent(eventName, payload, monitor.MonitorId));
        }
        if (monitor.CallBackUrl.Length > 0)
        {
            events.Add(new OutboxEvent(eventName, payload, monitor.MonitorId, OutboxTarget.Callback,
                monitor.CallBackUrl));
        }
    }

    private void AddHookCalls(List<OutboxEvent> events, string hookType, string payload, string entityKey)
    {
        foreach (var hook in hooks.Active(hookType))
        {
            events.Add(new OutboxEvent(hookType, payload, $"{hook.HookId}:{entityKey}", OutboxTarget.Hook, hook.Url,
                hook.HookId));
        }
    }
}
