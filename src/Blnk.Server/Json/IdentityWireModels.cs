using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Blnk.Server.Json;

// Wire shapes of identities (contract §4.6) and of linking a balance to one (§4.3).

/// <summary>
/// The body of <c>POST /identities</c> and <c>PUT /identities/{id}</c>. <c>dob</c> is read as text so that a
/// bad time is a validation error naming the field; <c>created_at</c> is not read (the server sets it).
/// </summary>
public sealed class IdentityRequest
{
    public string? IdentityId { get; set; }
    public string? IdentityType { get; set; }
    public string? OrganizationName { get; set; }
    public string? Category { get; set; }
    public string? FirstName { get; set; }
    public string? LastName { get; set; }
    public string? OtherNames { get; set; }
    public string? Gender { get; set; }
    public string? EmailAddress { get; set; }
    public string? PhoneNumber { get; set; }
    public string? Nationality { get; set; }
    public string? Street { get; set; }
    public string? Country { get; set; }
    public string? State { get; set; }
    public string? PostCode { get; set; }
    public string? City { get; set; }
    public string? Dob { get; set; }
    public JsonObject? MetaData { get; set; }
}

/// <summary>The body of <c>PUT /balances/{id}/identity</c>.</summary>
public sealed class BalanceIdentityRequest
{
    public string? IdentityId { get; set; }
}

/// <summary>Blnk's plain acknowledgement, <c>{"message": "…"}</c>.</summary>
public sealed class MessageResponse
{
    public required string Message { get; init; }
}

/// <summary>Identity shapes, in a context of their own (see <see cref="HistoryWireJsonContext"/> for why).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    PropertyNameCaseInsensitive = true,
    Converters = [typeof(BigIntegerJsonConverter), typeof(BlnkTimeJsonConverter), typeof(MetaDataJsonConverter)])]
[JsonSerializable(typeof(IdentityRequest))]
[JsonSerializable(typeof(BalanceIdentityRequest))]
[JsonSerializable(typeof(MessageResponse))]
[JsonSerializable(typeof(List<IdentityResponse>))]
public sealed partial class IdentityJsonContext : JsonSerializerContext;
