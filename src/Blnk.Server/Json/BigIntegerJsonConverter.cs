using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Blnk.Core.Money;

namespace Blnk.Server.Json;

/// <summary>
/// Money as bare JSON numbers of any size, as Blnk's Go <c>*big.Int</c> writes them. System.Text.Json
/// has no BigInteger support, and a double in between would lose digits above 2^53.
/// </summary>
public sealed class BigIntegerJsonConverter : JsonConverter<BigInteger>
{
    /// <summary>Longest number text read; far above any valid amount, short enough to parse cheaply.</summary>
    private const int NumberTextLengthMax = 1000;

    public override BigInteger Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.Number)
        {
            throw new JsonException("expected an integer number of minor units");
        }
        if ((reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length) > NumberTextLengthMax)
        {
            throw new JsonException("number too long");
        }
        var text = reader.HasValueSequence
            ? Encoding.UTF8.GetString(reader.ValueSequence)
            : Encoding.UTF8.GetString(reader.ValueSpan);
        if (!ExactDecimal.TryParse(text, out var exact) || exact.Scale != 0)
        {
            throw new JsonException($"expected an integer number of minor units, got {text}");
        }
        return exact.Unscaled;
    }

    public override void Write(Utf8JsonWriter writer, BigInteger value, JsonSerializerOptions options) =>
        writer.WriteRawValue(value.ToString(CultureInfo.InvariantCulture), skipInputValidation: true);
}
