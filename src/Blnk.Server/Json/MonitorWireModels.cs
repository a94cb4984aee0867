using System.Numerics;
using System.Text.Json.Serialization;

namespace Blnk.Server.Json;

/// <summary>A monitor's condition on the wire (contract §4.4), in Blnk's field order.</summary>
public sealed class MonitorConditionWire
{
    public double Value { get; init; }

    /// <summary>A whole number (validation sees to it), so shown in plain digits as a transaction's is.</summary>
    public BigInteger Precision { get; init; }
    public BigInteger PreciseValue { get; init; }
    public required string Field { get; init; }
    public required string Operator { get; init; }
}

/// <summary>
/// A balance monitor as Blnk returns it, plus <c>call_back_url</c> and <c>trigger</c> (decision 10: the
/// callback is called, so it is shown).
/// </summary>
public sealed class MonitorResponse
{
    public required string MonitorId { get; init; }
    public required string BalanceId { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public string? Description { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public string? CallBackUrl { get; init; }

    public required string Trigger { get; init; }
    public required DateTime? CreatedAt { get; init; }
    public required MonitorConditionWire Condition { get; init; }
}

/// <summary>
/// The body of <c>POST</c> and <c>PUT /balance-monitors</c>. Every field is optional here so that validation, not
/// the parser, says what is missing; <c>meta_data</c> is accepted and ignored, as Blnk does.
/// </summary>
public sealed class MonitorRequest
{
    public string? BalanceId { get; set; }
    public MonitorConditionRequest? Condition { get; set; }
    public string? Description { get; set; }
    public string? CallBackUrl { get; set; }
    public string? Trigger { get; set; }
}

/// <summary>A requested condition: <c>value</c> and <c>precision</c> are floats, as in Blnk.</summary>
public sealed class MonitorConditionRequest
{
    public string? Field { get; set; }
    public string? Operator { get; set; }
    public double? Value { get; set; }
    public double? Precision { get; set; }
}

/// <summary>The <c>{"message": …}</c> body confirming an update or a delete.</summary>
public sealed class ConfirmationMessage
{
    public required string Message { get; init; }
}

/// <summary>Monitor shapes, in a context of their own (see <see cref="LifecycleJsonContext"/> for why).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    PropertyNameCaseInsensitive = true,
    Converters = [typeof(BigIntegerJsonConverter), typeof(BlnkTimeJsonConverter), typeof(MetaDataJsonConverter)])]
[JsonSerializable(typeof(MonitorResponse))]
[JsonSerializable(typeof(List<MonitorResponse>))]
[JsonSerializable(typeof(MonitorRequest))]
[JsonSerializable(typeof(ConfirmationMessage))]
public sealed partial class MonitorJsonContext : JsonSerializerContext;
