using System.Numerics;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Blnk.Server.Json;

// Wire shapes of fund lineage (contract §7), in Blnk's field order. Amounts are JSON numbers in minor units.

/// <summary>One provider of a tracked balance: received from it, available, spent, and its shadow balance.</summary>
public sealed class ProviderLineageWire
{
    public required string Provider { get; init; }
    public required BigInteger Amount { get; init; }
    public required BigInteger Available { get; init; }
    public required BigInteger Spent { get; init; }
    public required string ShadowBalanceId { get; init; }
}

/// <summary><c>GET /balances/{id}/lineage</c>.</summary>
public sealed class BalanceLineageResponse
{
    public required string BalanceId { get; init; }
    public required BigInteger TotalWithLineage { get; init; }
    public required string AggregateBalanceId { get; init; }
    public required List<ProviderLineageWire> Providers { get; init; }
}

/// <summary>
/// <c>GET /transactions/{id}/lineage</c>. <see cref="FundAllocation"/> is the transaction's
/// <c>BLNK_FUND_ALLOCATION</c> as stored (omitted when it has none).
/// </summary>
public sealed class TransactionLineageResponse
{
    public required string TransactionId { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonNode? FundAllocation { get; init; }

    public required List<TransactionResponse> ShadowTransactions { get; init; }
}

/// <summary>
/// The source-generated JSON of the lineage shapes, with exactly <see cref="Wire.Context"/>'s options. A context
/// of its own because the generator cannot take <c>[JsonSerializable]</c> from a second partial declaration of
/// <see cref="WireJsonContext"/>.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    PropertyNameCaseInsensitive = true,
    Converters = [typeof(BigIntegerJsonConverter), typeof(BlnkTimeJsonConverter), typeof(MetaDataJsonConverter)])]
[JsonSerializable(typeof(BalanceLineageResponse))]
[JsonSerializable(typeof(TransactionLineageResponse))]
public sealed partial class LineageJsonContext : JsonSerializerContext;
