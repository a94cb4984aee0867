using System.Globalization;
using System.Numerics;

namespace Blnk.Core.Money;

/// <summary>
/// An exact decimal number: <c>Unscaled × 10^-Scale</c>. Used only to convert between wire text
/// (JSON numbers, distribution strings) and integer minor units; never for arithmetic on balances.
/// </summary>
public readonly record struct ExactDecimal(BigInteger Unscaled, int Scale)
{
    /// <summary>Largest exponent magnitude accepted: beyond any float, and it keeps 10^exponent cheap.</summary>
    public const int ExponentMagnitudeMax = 1000;

    /// <summary>Parses plain or exponent notation ("12.50", "-3", "1E+21", "2.5e-3").</summary>
    public static bool TryParse(string text, out ExactDecimal value)
    {
        value = default;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }
        var exponentAt = text.IndexOfAny(['e', 'E']);
        var mantissa = exponentAt < 0 ? text : text[..exponentAt];
        var exponent = 0;
        if (exponentAt >= 0 && (!int.TryParse(text[(exponentAt + 1)..], NumberStyles.AllowLeadingSign,
                CultureInfo.InvariantCulture, out exponent) || Math.Abs((long)exponent) > ExponentMagnitudeMax))
        {
            return false;
        }
        var negative = mantissa.StartsWith('-');
        if (negative || mantissa.StartsWith('+'))
        {
            mantissa = mantissa[1..];
        }
        var pointAt = mantissa.IndexOf('.', StringComparison.Ordinal);
        var digits = pointAt < 0 ? mantissa : mantissa.Remove(pointAt, 1);
        if (digits.Length == 0 || digits.AsSpan().ContainsAnyExceptInRange('0', '9'))
        {
            return false;
        }
        var scale = (pointAt < 0 ? 0 : mantissa.Length - pointAt - 1) - exponent;
        var unscaled = BigInteger.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);
        if (scale < 0)
        {
            unscaled *= BigInteger.Pow(10, -scale);
            scale = 0;
        }
        value = new ExactDecimal(negative ? -unscaled : unscaled, scale);
        return true;
    }

    /// <summary>This value times an integer, rounded half away from zero to an integer.</summary>
    public BigInteger MultiplyRoundHalfAwayFromZero(BigInteger factor)
    {
        var product = Unscaled * factor;
        if (Scale == 0)
        {
            return product;
        }
        var divisor = BigInteger.Pow(10, Scale);
        var quotient = BigInteger.DivRem(product, divisor, out var remainder);
        if (BigInteger.Abs(remainder) * 2 >= divisor)
        {
            quotient += product.Sign;
        }
        return quotient;
    }

    /// <summary>Count of significant digits: leading and trailing zeros of the digit string excluded.</summary>
    public int SignificantDigits()
    {
        var digits = BigInteger.Abs(Unscaled).ToString(CultureInfo.InvariantCulture).TrimEnd('0');
        return digits.Length == 0 ? 0 : digits.Length;
    }

    /// <summary>Plain notation without exponent, trailing fractional zeros removed ("1250.34", "100").</summary>
    public string ToPlainString()
    {
        var sign = Unscaled.Sign < 0 ? "-" : "";
        var digits = BigInteger.Abs(Unscaled).ToString(CultureInfo.InvariantCulture);
        if (Scale == 0)
        {
            return sign + digits;
        }
        digits = digits.PadLeft(Scale + 1, '0');
        var integerPart = digits.AsSpan(0, digits.Length - Scale);
        var fractionPart = digits.AsSpan(digits.Length - Scale).TrimEnd('0');
        return fractionPart.IsEmpty
            ? string.Concat(sign, integerPart)
            : string.Concat(sign, integerPart, ".", fractionPart);
    }
}
