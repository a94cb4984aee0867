using System.Globalization;
using System.Numerics;
using Blnk.Core.Money;

namespace Blnk.Core.Tests;

// Covers Precision.TryNormalize, ToAmountString and ToAmount: precision validation and minor units → major units.
public sealed class PrecisionTests
{
    [Theory]
    [InlineData(null, true, "1")]
    [InlineData(0.0, true, "1")]
    [InlineData(1.0, true, "1")]
    [InlineData(100.0, true, "100")]
    [InlineData(3.0, true, "3")]
    [InlineData(1e18, true, "1000000000000000000")]
    [InlineData(9007199254740992.0, true, "9007199254740992")]
    [InlineData(2.5, false, null)]
    [InlineData(0.5, false, null)]
    [InlineData(-1.0, false, null)]
    [InlineData(-100.0, false, null)]
    [InlineData(double.NaN, false, null)]
    [InlineData(double.PositiveInfinity, false, null)]
    [InlineData(double.NegativeInfinity, false, null)]
    public void TryNormalize_accepts_whole_non_negative_precisions_and_maps_zero_or_absent_to_one(double? precision,
        bool accepted, string? expected)
    {
        Assert.Equal(accepted, Precision.TryNormalize(precision, out var normalized));
        if (accepted)
        {
            Assert.Equal(Big(expected!), normalized);
        }
    }

    [Fact]
    public void TryNormalize_maps_negative_zero_to_one()
    {
        Assert.True(Precision.TryNormalize(-0.0, out var normalized));
        Assert.Equal(BigInteger.One, normalized);
    }

    public static TheoryData<string, string, string> AmountStrings => new()
    {
        { "12345", "100", "123.45" },
        { "100", "100", "1" },
        { "125034", "100", "1250.34" },
        { "1", "100", "0.01" },
        { "0", "100", "0" },
        { "-12345", "100", "-123.45" },
        { "-1", "100", "-0.01" },
        { "5", "1", "5" },
        // Far beyond 64 bits: still exact.
        { "1000000000000000000000000000000", "100", "10000000000000000000000000000" },
        { "1000000000000000000000000000007", "100", "10000000000000000000000000000.07" },
        { "340282366920938463463374607431768211457", "1", "340282366920938463463374607431768211457" },
        // Precision 1e18 (wei).
        { "1500000000000000000", "1000000000000000000", "1.5" },
        { "1", "1000000000000000000", "0.000000000000000001" },
        { "123456789000000000000000000", "1000000000000000000", "123456789" },
        { "1000000000000000000000000000007", "1000000000000000000", "1000000000000.000000000000000007" },
        // Precisions that are not powers of ten but divide one: the decimal still terminates.
        { "7", "2", "3.5" },
        { "1", "8", "0.125" },
        { "3", "1024", "0.0029296875" },
        // Non-terminating quotients: 20 fractional digits, rounded half away from zero.
        { "1", "3", "0.33333333333333333333" },
        { "2", "3", "0.66666666666666666667" },
        { "-2", "3", "-0.66666666666666666667" },
        { "1", "7", "0.14285714285714285714" },
        { "300", "3", "100" },
    };

    [Theory]
    [MemberData(nameof(AmountStrings))]
    public void ToAmountString_is_the_exact_decimal_of_precise_amount_over_precision(string preciseAmount,
        string precision, string expected)
    {
        Assert.Equal(expected, Precision.ToAmountString(Big(preciseAmount), Big(precision)));
    }

    [Theory]
    [InlineData("12345", "100", 123.45)]
    [InlineData("125034", "100", 1250.34)]
    [InlineData("1000000000000000000000000000000", "100", 1e28)]
    [InlineData("1500000000000000000", "1000000000000000000", 1.5)]
    [InlineData("1", "1000000000000000000", 1e-18)]
    [InlineData("1", "3", 0.3333333333333333)]
    [InlineData("-101", "100", -1.01)]
    [InlineData("0", "100", 0.0)]
    public void ToAmount_is_the_float_nearest_the_exact_decimal(string preciseAmount, string precision,
        double expected)
    {
        Assert.Equal(expected, Precision.ToAmount(Big(preciseAmount), Big(precision)));
    }

    [Theory]
    [InlineData(1.01, "100")]
    [InlineData(1250.34, "100")]
    [InlineData(1.5, "1000000000000000000")]
    [InlineData(123456789012345.0, "1")]
    [InlineData(0.000123456789012345, "1000000000000000000")]
    public void An_amount_survives_the_round_trip_through_minor_units(double amount, string precision)
    {
        var preciseAmount = Precision.ToPreciseAmount(amount, Big(precision));
        Assert.Equal(amount, Precision.ToAmount(preciseAmount, Big(precision)));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    public void ToAmountString_with_a_non_positive_precision_is_an_invariant_violation(string precision)
    {
        Assert.Throws<InvariantException>(() => Precision.ToAmountString(1, Big(precision)));
    }

    private static BigInteger Big(string value) => BigInteger.Parse(value, CultureInfo.InvariantCulture);
}
