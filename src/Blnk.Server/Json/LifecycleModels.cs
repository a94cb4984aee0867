using System.Numerics;
using System.Text.Json.Serialization;

namespace Blnk.Server.Json;

// Wire shapes of the transaction lifecycle: inflight actions, refunds, bulk, dry-run previews.

public sealed class InflightActionRequest
{
    public string? Status { get; set; }
    public double? Amount { get; set; }
    public BigInteger? PreciseAmount { get; set; }
    public bool SkipQueue { get; set; }
    public bool DryRun { get; set; }
}

public sealed class BulkCommitItem
{
    public string? TransactionId { get; set; }
    public double? Amount { get; set; }
    public BigInteger? PreciseAmount { get; set; }
}

public sealed class BulkCommitRequest
{
    public List<BulkCommitItem?>? Transactions { get; set; }
    public bool SkipQueue { get; set; }
    public bool DryRun { get; set; }
}

public sealed class BulkVoidRequest
{
    public List<string?>? TransactionIds { get; set; }
    public bool SkipQueue { get; set; }
    public bool DryRun { get; set; }
}

public sealed class BulkInflightItemResult
{
    public required string TransactionId { get; init; }
    public required string Status { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Code { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Message { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DryRunPreview? Preview { get; init; }
}

public sealed class BulkInflightResponse
{
    public required int Succeeded { get; init; }
    public required int Failed { get; init; }
    public required List<BulkInflightItemResult> Results { get; init; }
}

public sealed class DryRunRejection
{
    public required string Code { get; init; }
    public required string Reason { get; init; }
    public required string Message { get; init; }
}

public sealed class BalancePreview
{
    public required string BalanceId { get; init; }
    public required string Role { get; init; }
    public required string Currency { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? Virtual { get; init; }

    public required string CurrentBalance { get; init; }
    public required string CurrentAvailable { get; init; }
    public required string CurrentCreditBalance { get; init; }
    public required string CurrentDebitBalance { get; init; }
    public required string CurrentInflightDebitBalance { get; init; }
    public required string CurrentInflightCreditBalance { get; init; }
    public required string ResultingBalance { get; init; }
    public required string ResultingAvailable { get; init; }
    public required string ResultingCreditBalance { get; init; }
    public required string ResultingDebitBalance { get; init; }
    public required string ResultingInflightDebitBalance { get; init; }
    public required string ResultingInflightCreditBalance { get; init; }
}

public sealed class LegPreview
{
    public required string Identifier { get; init; }
    public required string Role { get; init; }
    public required string PreciseAmount { get; init; }
    public required double Amount { get; init; }
}

/// <summary>A dry run's answer (contract §15.1): what would happen, with nothing written.</summary>
public sealed class DryRunPreview
{
    public bool DryRun { get; init; } = true;
    public required bool WouldApply { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DryRunRejection? Rejection { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Operation { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Status { get; init; }

    public required string Reference { get; init; }
    public required string Currency { get; init; }
    public required double Amount { get; init; }
    public required string PreciseAmount { get; init; }
    public required BigInteger Precision { get; init; }
    public required List<BalancePreview> Balances { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<LegPreview>? Legs { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<string>? Notes { get; init; }
}


public sealed class RefundRequest
{
    public bool SkipQueue { get; set; }
    public bool DryRun { get; set; }
    public string? Description { get; set; }
    public System.Text.Json.Nodes.JsonObject? MetaData { get; set; }
}

public sealed class BulkRequest
{
    public List<TransactionRequest?>? Transactions { get; set; }
    public bool Inflight { get; set; }
    public bool Atomic { get; set; }
    public bool RunAsync { get; set; }
    public bool SkipQueue { get; set; }
    public bool DryRun { get; set; }
}

public sealed class BulkResponse
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Message { get; init; }

    public required string BatchId { get; init; }
    public required string Status { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? TransactionCount { get; init; }
}

public sealed class BulkDryRunResponse
{
    public bool DryRun { get; init; } = true;
    public required bool WouldApply { get; init; }
    public required bool Cumulative { get; init; }
    public required bool Atomic { get; init; }
    public required List<DryRunPreview> Results { get; init; }
}

/// <summary>
/// Source-generated JSON for the lifecycle shapes. A context of its own: the generator does not allow
/// one context's [JsonSerializable] attributes to be spread over several partial declarations.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    PropertyNameCaseInsensitive = true,
    Converters = [typeof(BigIntegerJsonConverter), typeof(BlnkTimeJsonConverter), typeof(MetaDataJsonConverter)])]
[JsonSerializable(typeof(InflightActionRequest))]
[JsonSerializable(typeof(BulkCommitRequest))]
[JsonSerializable(typeof(BulkVoidRequest))]
[JsonSerializable(typeof(BulkInflightResponse))]
[JsonSerializable(typeof(DryRunPreview))]
[JsonSerializable(typeof(RefundRequest))]
[JsonSerializable(typeof(BulkRequest))]
[JsonSerializable(typeof(BulkResponse))]
[JsonSerializable(typeof(BulkDryRunResponse))]
public sealed partial class LifecycleJsonContext : JsonSerializerContext;
