namespace Blnk.Storage;

/// <summary>Where an outbox row is delivered.</summary>
public static class OutboxTarget
{
    /// <summary>The global webhook; its URL and headers come from the configuration at delivery time.</summary>
    public const string Webhook = "webhook";

    /// <summary>A balance monitor's <c>call_back_url</c> (<see cref="OutboxEvent.Url"/>).</summary>
    public const string Callback = "callback";

    /// <summary>A transaction hook (<see cref="OutboxEvent.HookId"/>, URL <see cref="OutboxEvent.Url"/>).</summary>
    public const string Hook = "hook";
}

/// <summary>
/// One delivery of one event to one target, written in the same database transaction as the change it
/// reports. Deliveries with the same target and <see cref="EntityKey"/> arrive in the order they were written.
/// </summary>
public sealed record OutboxEvent(string Event, string PayloadJson, string EntityKey, string Target = OutboxTarget.Webhook,
    string? Url = null, string? HookId = null);

/// <summary>A pending delivery as the dispatcher leases it.</summary>
public sealed record OutboxDelivery(long Seq, string Event, string PayloadJson, string Target, string? Url,
    string? HookId, int Attempts, DateTime CreatedAt);

/// <summary>The lineage kinds of §7: what the lineage processor must do for a transaction.</summary>
public static class LineageType
{
    /// <summary>Tagged money arrives in a tracked balance from an untracked one: a shadow credit.</summary>
    public const string Credit = "credit";

    /// <summary>Money leaves a tracked balance: releases by allocation, received by a tracked destination.</summary>
    public const string Debit = "debit";

    public const string ShadowCommit = "shadow_commit";
    public const string ShadowVoid = "shadow_void";
}

/// <summary>
/// Lineage work for one transaction, recorded with it (<c>lineage_outbox</c>). The balances are the tracked
/// ones involved (null when untracked) with their identities, which order the work; <see cref="Provider"/> is
/// the credit's provider tag. For shadow_commit / shadow_void the transaction is the commit or void row and its
/// parent is the hold.
/// </summary>
public sealed record LineageWork(string TransactionId, string Type, string? SourceBalanceId, string? SourceIdentityId,
    string? DestinationBalanceId, string? DestinationIdentityId, string? Provider);
