using System.Globalization;
using System.Numerics;
using Blnk.Core.Money;

namespace Blnk.Core.Tests;

// Covers Precision.ToPreciseAmount (Blnk's float amount → minor units, decision 13) and the 15-significant-digit rule.
public sealed class PreciseAmountTests
{
    [Theory]
    // The classic: binary 1.005 is 1.00499999…, but Blnk rounds the shortest decimal "1.005".
    [InlineData(1.005, "100", "101")]
    [InlineData(1.015, "100", "102")]
    [InlineData(2.675, "100", "268")]
    [InlineData(0.005, "100", "1")]
    [InlineData(0.004999, "100", "0")]
    [InlineData(0.001, "100", "0")]
    [InlineData(1250.34, "100", "125034")]
    [InlineData(19.99, "100", "1999")]
    [InlineData(0.07, "100", "7")]
    // 0.1 + 0.2 is the float 0.30000000000000004: its shortest decimal keeps every digit.
    [InlineData(0.30000000000000004, "100", "30")]
    [InlineData(0.30000000000000004, "100000000000000000", "30000000000000004")]
    // Half away from zero, on both signs.
    [InlineData(0.5, "1", "1")]
    [InlineData(2.5, "1", "3")]
    [InlineData(0.49, "1", "0")]
    [InlineData(-0.5, "1", "-1")]
    [InlineData(-2.5, "1", "-3")]
    [InlineData(-1.005, "100", "-101")]
    [InlineData(-0.005, "100", "-1")]
    // Precision 1e18 (wei): exact decimal arithmetic, where float multiplication would drift.
    [InlineData(1.5, "1000000000000000000", "1500000000000000000")]
    [InlineData(1.1, "1000000000000000000", "1100000000000000000")]
    [InlineData(1e-18, "1000000000000000000", "1")]
    // Amounts whose shortest form uses an exponent ("1E+21", "1.23E-05").
    [InlineData(1e21, "1", "1000000000000000000000")]
    [InlineData(1e21, "100", "100000000000000000000000")]
    [InlineData(1.23e-5, "100000000", "1230")]
    // 15 significant digits survive exactly.
    [InlineData(123456789012345.0, "1", "123456789012345")]
    [InlineData(0.123456789012345, "1000000000000000", "123456789012345")]
    [InlineData(1000000000000000.2, "10", "10000000000000002")]
    // Precisions that are not powers of ten.
    [InlineData(0.1, "3", "0")]
    [InlineData(0.5, "3", "2")]
    [InlineData(33.3333333333333, "3", "100")]
    [InlineData(12.345, "1000000007", "12345000086")]
    [InlineData(0.0, "100", "0")]
    public void ToPreciseAmount_rounds_the_shortest_decimal_half_away_from_zero(double amount, string precision,
        string expected)
    {
        Assert.Equal(Big(expected), Precision.ToPreciseAmount(amount, Big(precision)));
    }

    [Fact]
    public void ToPreciseAmount_of_a_computed_0_1_plus_0_2_uses_the_floats_shortest_decimal()
    {
        var amount = 0.1;
        amount += 0.2;
        Assert.Equal(new BigInteger(30), Precision.ToPreciseAmount(amount, 100));
        Assert.Equal(Big("30000000000000004"), Precision.ToPreciseAmount(amount, Big("100000000000000000")));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-100")]
    public void ToPreciseAmount_with_a_non_positive_precision_is_an_invariant_violation(string precision)
    {
        Assert.Throws<InvariantException>(() => Precision.ToPreciseAmount(1, Big(precision)));
    }

    [Theory]
    [InlineData(123456789012345.0, 15)]
    [InlineData(1234567890123456.0, 16)]
    [InlineData(0.123456789012345, 15)]
    [InlineData(0.1234567890123456, 16)]
    [InlineData(99999999999999.9, 15)]
    [InlineData(999999999999999.9, 16)]
    [InlineData(0.30000000000000004, 17)]
    [InlineData(1250.34, 6)]
    [InlineData(100.0, 1)]
    [InlineData(1e18, 1)]
    [InlineData(1e-7, 1)]
    [InlineData(-12.5, 3)]
    [InlineData(0.0, 0)]
    public void SignificantDigits_of_the_shortest_decimal(double amount, int expected)
    {
        Assert.Equal(expected, Precision.ShortestDecimal(amount).SignificantDigits());
    }

    [Theory]
    [InlineData(123456789012345.0, true)]
    [InlineData(1234567890123456.0, false)]
    [InlineData(0.000123456789012345, true)]
    [InlineData(0.0001234567890123456, false)]
    [InlineData(1e300, true)]
    [InlineData(0.1, true)]
    [InlineData(0.30000000000000004, false)]
    public void The_15_significant_digit_limit_accepts_at_most_15(double amount, bool withinLimit)
    {
        var digits = Precision.ShortestDecimal(amount).SignificantDigits();
        Assert.Equal(withinLimit, digits <= Precision.AmountSignificantDigitsMax);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    public void ShortestDecimal_of_a_non_finite_float_is_an_invariant_violation(double amount)
    {
        Assert.Throws<InvariantException>(() => Precision.ShortestDecimal(amount));
    }

    private static BigInteger Big(string value) => BigInteger.Parse(value, CultureInfo.InvariantCulture);
}
