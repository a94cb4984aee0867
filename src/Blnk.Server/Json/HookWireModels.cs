using System.Text.Json.Serialization;

namespace Blnk.Server.Json;

/// <summary>
/// The body of <c>POST</c> and <c>PUT /hooks</c> (contract §4.9). Numbers are whole, as Go's <c>int</c> fields
/// are: <c>30.5</c> is malformed. An omitted <c>active</c> is false, as in Blnk.
/// </summary>
public sealed class HookRequest
{
    public string? Name { get; set; }
    public string? Url { get; set; }
    public string? Type { get; set; }
    public bool Active { get; set; }
    public int Timeout { get; set; }
    public int RetryCount { get; set; }
}

/// <summary>A hook as Blnk shows it: <c>timeout</c> in seconds, an unset <c>last_run</c> as Go's zero time.</summary>
public sealed class HookResponse
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required string Url { get; init; }
    public required string Type { get; init; }
    public required bool Active { get; init; }
    public required int Timeout { get; init; }
    public required int RetryCount { get; init; }
    public required DateTime? CreatedAt { get; init; }
    public required DateTime? LastRun { get; init; }
    public required bool LastSuccess { get; init; }
}

/// <summary>Hook shapes, in a context of their own (see <see cref="LifecycleJsonContext"/> for why).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    PropertyNameCaseInsensitive = true,
    Converters = [typeof(BigIntegerJsonConverter), typeof(BlnkTimeJsonConverter), typeof(MetaDataJsonConverter)])]
[JsonSerializable(typeof(HookRequest))]
[JsonSerializable(typeof(HookResponse))]
[JsonSerializable(typeof(List<HookResponse>))]
[JsonSerializable(typeof(ConfirmationMessage))]
public sealed partial class HookJsonContext : JsonSerializerContext;
