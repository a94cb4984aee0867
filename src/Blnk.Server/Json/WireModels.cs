using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Blnk.Server.Json;

// Wire shapes, in Blnk's field order (contract §4). Only this folder knows snake_case and floats.

public sealed class LedgerRequest
{
    public string? Name { get; set; }
    public JsonObject? MetaData { get; set; }
}

public sealed class LedgerResponse
{
    public required string LedgerId { get; init; }
    public required string Name { get; init; }
    public required DateTime? CreatedAt { get; init; }
    public JsonObject? MetaData { get; init; }
}

public sealed class BalanceRequest
{
    public string? LedgerId { get; set; }
    public string? Currency { get; set; }
    public string? IdentityId { get; set; }
    public double? Precision { get; set; }
    public JsonObject? MetaData { get; set; }
    public bool TrackFundLineage { get; set; }
    public string? AllocationStrategy { get; set; }
    public string? Indicator { get; set; }
}

public sealed class BalanceResponse
{
    public required BigInteger Balance { get; init; }
    public required long Version { get; init; }
    public required BigInteger InflightBalance { get; init; }
    public required BigInteger CreditBalance { get; init; }
    public required BigInteger InflightCreditBalance { get; init; }
    public required BigInteger DebitBalance { get; init; }
    public required BigInteger InflightDebitBalance { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public BigInteger? QueuedDebitBalance { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public BigInteger? QueuedCreditBalance { get; init; }

    public required string LedgerId { get; init; }
    public required string IdentityId { get; init; }
    public required string BalanceId { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Indicator { get; init; }

    public required string Currency { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IdentityResponse? Identity { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public LedgerResponse? Ledger { get; init; }

    public required DateTime? CreatedAt { get; init; }
    public DateTime? InflightExpiresAt { get; init; }
    public JsonObject? MetaData { get; init; }
    public bool TrackFundLineage { get; init; }
    public required string AllocationStrategy { get; init; }
}

public sealed class IdentityResponse
{
    public required string IdentityId { get; init; }
    public required string IdentityType { get; init; }
    public required string OrganizationName { get; init; }
    public required string Category { get; init; }
    public required string FirstName { get; init; }
    public required string LastName { get; init; }
    public required string OtherNames { get; init; }
    public required string Gender { get; init; }
    public required string EmailAddress { get; init; }
    public required string PhoneNumber { get; init; }
    public required string Nationality { get; init; }
    public required string Street { get; init; }
    public required string Country { get; init; }
    public required string State { get; init; }
    public required string PostCode { get; init; }
    public required string City { get; init; }
    public DateTime? Dob { get; init; }
    public required DateTime? CreatedAt { get; init; }
    public JsonObject? MetaData { get; init; }
}

public sealed class TransactionRequest
{
    public double? Amount { get; set; }
    public BigInteger? PreciseAmount { get; set; }
    public double? Precision { get; set; }
    public string? Currency { get; set; }
    public string? Reference { get; set; }
    public string? Description { get; set; }
    public string? Source { get; set; }
    public JsonElement? Sources { get; set; }
    public string? Destination { get; set; }
    public JsonElement? Destinations { get; set; }
    public bool AllowOverdraft { get; set; }
    public double OverdraftLimit { get; set; }
    public bool Inflight { get; set; }
    public string? InflightExpiryDate { get; set; }
    public string? InflightCommitDate { get; set; }
    public string? ScheduledFor { get; set; }
    public string? EffectiveDate { get; set; }
    public bool SkipQueue { get; set; }
    public bool Atomic { get; set; }
    public JsonObject? MetaData { get; set; }
    public bool DryRun { get; set; }
    public string? BalanceId { get; set; }
}

public sealed record TransactionResponse
{
    public required BigInteger PreciseAmount { get; init; }
    public required double Amount { get; init; }
    public required string AmountString { get; init; }
    public required BigInteger Precision { get; init; }
    public required double OverdraftLimit { get; init; }
    public required string TransactionId { get; init; }
    public required string ParentTransaction { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Source { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Destination { get; init; }

    public required string Reference { get; init; }
    public required string Currency { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Description { get; init; }

    public required string Status { get; init; }
    public required string Hash { get; init; }
    public bool AllowOverdraft { get; init; }
    public bool Inflight { get; init; }
    public bool SkipQueue { get; init; }
    public bool Atomic { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonElement? Sources { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonElement? Destinations { get; init; }

    public required DateTime? CreatedAt { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DateTime? EffectiveDate { get; init; }

    public DateTime? ScheduledFor { get; init; }
    public DateTime? InflightExpiryDate { get; init; }
    public DateTime? InflightCommitDate { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonObject? MetaData { get; init; }

    /// <summary>True when an inflight commit or void was queued (contract §4.5.5).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? Queued { get; init; }
}

public sealed class HealthResponse
{
    public required string Status { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Reason { get; init; }
}

/// <summary>
/// Source-generated JSON for every wire type: no reflection on the hot path. Property names are
/// matched case-insensitively on input, as Go's encoding/json does.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    PropertyNameCaseInsensitive = true,
    Converters = [typeof(BigIntegerJsonConverter), typeof(BlnkTimeJsonConverter), typeof(MetaDataJsonConverter)])]
[JsonSerializable(typeof(LedgerRequest))]
[JsonSerializable(typeof(LedgerResponse))]
[JsonSerializable(typeof(List<LedgerResponse>))]
[JsonSerializable(typeof(BalanceRequest))]
[JsonSerializable(typeof(BalanceResponse))]
[JsonSerializable(typeof(List<BalanceResponse>))]
[JsonSerializable(typeof(IdentityResponse))]
[JsonSerializable(typeof(TransactionRequest))]
[JsonSerializable(typeof(TransactionResponse))]
[JsonSerializable(typeof(List<TransactionResponse>))]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(string))]
public sealed partial class WireJsonContext : JsonSerializerContext;

/// <summary>The JSON options every endpoint reads and writes with.</summary>
public static class Wire
{
    /// <summary>
    /// As the source-generated defaults, but strings keep quotes and non-ASCII text readable
    /// (Go's encoder does not escape them either).
    /// </summary>
    public static WireJsonContext Context { get; } = new(NewOptions());

    /// <summary>The lifecycle shapes (inflight actions, refunds, bulk, dry runs), with the same options.</summary>
    public static LifecycleJsonContext Lifecycle { get; } = new(NewOptions());

    /// <summary>Historical balances, snapshots, metadata and recovery, with the same options.</summary>
    public static HistoryWireJsonContext History { get; } = new(NewOptions());

    /// <summary>Balance monitors, with the same options.</summary>
    public static MonitorJsonContext Monitors { get; } = new(NewOptions());

    /// <summary>Identities and balance-identity links, with the same options.</summary>
    public static IdentityJsonContext Identities { get; } = new(NewOptions());

    /// <summary>Transaction hooks, with the same options.</summary>
    public static HookJsonContext Hooks { get; } = new(NewOptions());

    /// <summary>Fund lineage of balances and transactions, with the same options.</summary>
    public static LineageJsonContext Lineage { get; } = new(NewOptions());

    /// <summary>Options for one context instance (an options object belongs to a single context).</summary>
    public static JsonSerializerOptions NewOptions() => new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        PropertyNameCaseInsensitive = true,
        Converters = { new BigIntegerJsonConverter(), new BlnkTimeJsonConverter(), new MetaDataJsonConverter() },
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
