using System.Numerics;
using System.Text.Json.Serialization;

namespace Blnk.Server.Json;

/// <summary>A monitor's condition on the wire (contract §4.4).</summary>
public sealed class MonitorConditionWire
{
    public required string Field { get; init; }
    public required string Operator { get; init; }
    public double Value { get; init; }
    public double Precision { get; init; }
    public BigInteger PreciseValue { get; init; }
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
    public required DateTime CreatedAt { get; init; }
    public required MonitorConditionWire Condition { get; init; }
}

/// <summary>Monitor shapes, in a context of their own (see <see cref="LifecycleJsonContext"/> for why).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    PropertyNameCaseInsensitive = true,
    Converters = [typeof(BigIntegerJsonConverter), typeof(BlnkTimeJsonConverter), typeof(MetaDataJsonConverter)])]
[JsonSerializable(typeof(MonitorResponse))]
[JsonSerializable(typeof(List<MonitorResponse>))]
public sealed partial class MonitorJsonContext : JsonSerializerContext;
