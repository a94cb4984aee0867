using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Blnk.Server.Json;

// Wire shapes of historical balances, snapshots, metadata updates and queue recovery (contract §4.3,
// §4.5.7, §4.8), in Blnk's field order.

/// <summary>The <c>balance</c> object of <c>GET /balances/{id}/at</c>: credit, debit and their difference.</summary>
public sealed class HistoricalBalanceWire
{
    public required BigInteger Balance { get; init; }
    public required BigInteger DebitBalance { get; init; }
    public required BigInteger CreditBalance { get; init; }
    public required string Currency { get; init; }
    public required string BalanceId { get; init; }
}

public sealed class BalanceAtTimeResponse
{
    public required HistoricalBalanceWire Balance { get; init; }
    public required DateTime? Timestamp { get; init; }
    public required bool FromSource { get; init; }
}

/// <summary>The answer of <c>POST /balances-snapshots</c>; the work goes on in the background.</summary>
public sealed class SnapshotStartedResponse
{
    public required string Message { get; init; }
}

/// <summary>
/// The body of <c>POST /{id}/metadata</c>. Read as a raw JSON value: a value that is not an object answers
/// a validation error rather than a malformed-JSON one, and keys are taken as Go takes them (case-sensitive,
/// the last of duplicates wins), which a <c>JsonObject</c> read with these options would not do.
/// </summary>
public sealed class MetaDataUpdateRequest
{
    public JsonElement? MetaData { get; set; }
}

public sealed class MetaDataUpdateResponse
{
    public required JsonObject MetaData { get; init; }
}

public sealed class QueueRecoveryResponse
{
    public required int Recovered { get; init; }
    public required string Threshold { get; init; }
}

/// <summary>
/// The source-generated JSON of the shapes above, with exactly <see cref="Wire.Context"/>'s options. A
/// context of its own because the generator cannot take <c>[JsonSerializable]</c> from a second partial
/// declaration of <see cref="WireJsonContext"/> (both would emit the same generated files).
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    PropertyNameCaseInsensitive = true,
    Converters = [typeof(BigIntegerJsonConverter), typeof(BlnkTimeJsonConverter), typeof(MetaDataJsonConverter)])]
[JsonSerializable(typeof(BalanceAtTimeResponse))]
[JsonSerializable(typeof(SnapshotStartedResponse))]
[JsonSerializable(typeof(MetaDataUpdateRequest))]
[JsonSerializable(typeof(MetaDataUpdateResponse))]
[JsonSerializable(typeof(QueueRecoveryResponse))]
public sealed partial class HistoryWireJsonContext : JsonSerializerContext;
