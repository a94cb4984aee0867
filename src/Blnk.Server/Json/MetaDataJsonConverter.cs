using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Blnk.Server.Json;

/// <summary>
/// Reads <c>meta_data</c> objects with case-sensitive keys, the last of duplicate keys winning. Without it,
/// the case-insensitive matching our request types use for their own fields (as Go does) would also apply
/// to metadata keys, and <c>{"a": 1, "A": 2}</c> would fail as a duplicate instead of being two keys.
/// </summary>
public sealed class MetaDataJsonConverter : JsonConverter<JsonObject>
{
    public override JsonObject Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException("meta_data must be a JSON object");
        }
        return (JsonObject)Copy(document.RootElement)!;
    }

    public override void Write(Utf8JsonWriter writer, JsonObject value, JsonSerializerOptions options) =>
        value.WriteTo(writer, options);

    private static JsonNode? Copy(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var result = new JsonObject();
                foreach (var property in element.EnumerateObject())
                {
                    result[property.Name] = Copy(property.Value);
                }
                return result;
            case JsonValueKind.Array:
                return new JsonArray([.. element.EnumerateArray().Select(Copy)]);
            default:
                return JsonValue.Create(element.Clone());
        }
    }
}
