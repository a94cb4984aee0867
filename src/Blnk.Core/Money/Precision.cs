using System.Globalization;
using System.Numerics;

namespace Blnk.Core.Money;

/// <summary>
/// Conversions between Blnk's wire amounts (float major units with a precision) and integer minor
/// units. The only place that multiplies, divides or rounds amounts.
/// </summary>
/// <remarks>
/// Blnk turns a float64 <c>amount</c> into minor units by formatting the float's shortest round-trip
/// decimal, multiplying by <c>precision</c> in decimal arithmetic and rounding half away from zero
/// (so 1.005 × 100 → 101, where binary float arithmetic would give 100). We reproduce that exactly
/// (decision 13) so a client sees the same <c>precise_amount</c> on either server.
/// </remarks>
public static class Precision
{
    /// <summary>Largest number of significant digits an <c>amount</c> may carry.</summary>
    public const int AmountSignificantDigitsMax = 15;

    /// <summary>The digits of fractional amounts shown when precision is not a power of ten.</summary>
    private const int NonTerminatingFractionDigits = 20;

    /// <summary>The shortest decimal text that round-trips to <paramref name="value"/>, without exponent.</summary>
    public static ExactDecimal ShortestDecimal(double value)
    {
        Invariant.Assert(double.IsFinite(value));
        var text = value.ToString("R", CultureInfo.InvariantCulture);
        var parsed = ExactDecimal.TryParse(text, out var exact);
        Invariant.Assert(parsed);
        return exact;
    }

    /// <summary>Go's <c>strconv.FormatFloat(v, 'f', -1, 64)</c>: shortest round-trip, plain notation.</summary>
    public static string FormatShortest(double value) => ShortestDecimal(value).ToPlainString();

    /// <summary>Minor units for a float amount at a precision, as Blnk computes them.</summary>
    public static BigInteger ToPreciseAmount(double amount, BigInteger precision)
    {
        Invariant.Assert(precision.Sign > 0);
        return ShortestDecimal(amount).MultiplyRoundHalfAwayFromZero(precision);
    }

    /// <summary>The precision a transaction carries: a positive integer; 0 or absent means 1.</summary>
    /// <returns>False when the value is not a whole number or is negative.</returns>
    public static bool TryNormalize(double? precision, out BigInteger normalized)
    {
        normalized = BigInteger.One;
        if (precision is null || precision.Value == 0)
        {
            return true;
        }
        var value = precision.Value;
        if (!double.IsFinite(value) || Math.Floor(value) != value || value < 0)
        {
            return false;
        }
        normalized = new BigInteger(value);
        return true;
    }

    /// <summary>The exact decimal major-unit amount of <paramref name="preciseAmount"/> minor units.</summary>
    public static string ToAmountString(BigInteger preciseAmount, BigInteger precision)
    {
        Invariant.Assert(precision.Sign > 0);
        var (scale, unscaled) = ExactScale(preciseAmount, precision);
        return new ExactDecimal(unscaled, scale).ToPlainString();
    }

    /// <summary>The float major-unit amount shown in the wire field <c>amount</c>.</summary>
    public static double ToAmount(BigInteger preciseAmount, BigInteger precision) =>
        double.Parse(ToAmountString(preciseAmount, precision), NumberStyles.Float, CultureInfo.InvariantCulture);

    private static (int Scale, BigInteger Unscaled) ExactScale(BigInteger preciseAmount, BigInteger precision)
    {
        var power = BigInteger.One;
        for (var scale = 0; scale <= 80; scale++)
        {
            if (BigInteger.Remainder(power, precision).IsZero)
            {
                return (scale, preciseAmount * (power / precision));
            }
            power *= 10;
        }
        var shifted = preciseAmount * BigInteger.Pow(10, NonTerminatingFractionDigits);
        return (NonTerminatingFractionDigits, RoundedDivide(shifted, precision));
    }

    private static BigInteger RoundedDivide(BigInteger numerator, BigInteger denominator)
    {
        var quotient = BigInteger.DivRem(numerator, denominator, out var remainder);
        if (BigInteger.Abs(remainder) * 2 >= denominator)
        {
            quotient += numerator.Sign;
        }
        return quotient;
    }
}
