using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Blnk.Server.Json;

/// <summary>
/// Times as Go's RFC 3339 with up to nanosecond digits (trailing zeros trimmed), always UTC; an unset
/// time is Go's zero time <c>0001-01-01T00:00:00Z</c>, which Blnk clients expect instead of null.
/// </summary>
public sealed class BlnkTimeJsonConverter : JsonConverter<DateTime?>
{
    public const string ZeroTime = "0001-01-01T00:00:00Z";

    public override bool HandleNull => true;

    public static string Format(DateTime? value) => value is null || value.Value == default
        ? ZeroTime
        : value.Value.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

    public override DateTime? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }
        var text = reader.GetString();
        if (text is null || !DateTime.TryParse(text, CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var value))
        {
            throw new JsonException("expected an RFC 3339 time such as 2024-01-01T15:04:05Z");
        }
        return value;
    }

    public override void Write(Utf8JsonWriter writer, DateTime? value, JsonSerializerOptions options) =>
        writer.WriteStringValue(Format(value));
}
