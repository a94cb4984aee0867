using System.Globalization;
using System.Numerics;
using Blnk.Core.Money;

namespace Blnk.Core.Tests;

// Covers ExactDecimal.TryParse / ToPlainString / MultiplyRoundHalfAwayFromZero and Precision.FormatShortest.
public sealed class ExactDecimalTests
{
    [Theory]
    [InlineData("12.50", "1250", 2, "12.5")]
    [InlineData("-3", "-3", 0, "-3")]
    [InlineData("+7", "7", 0, "7")]
    [InlineData("0", "0", 0, "0")]
    [InlineData("-0.0", "0", 1, "0")]
    [InlineData("0.000", "0", 3, "0")]
    [InlineData(".5", "5", 1, "0.5")]
    [InlineData("5.", "5", 0, "5")]
    [InlineData("00012.3400", "123400", 4, "12.34")]
    [InlineData("1250.34", "125034", 2, "1250.34")]
    [InlineData("1E+21", "1000000000000000000000", 0, "1000000000000000000000")]
    [InlineData("1e21", "1000000000000000000000", 0, "1000000000000000000000")]
    [InlineData("2.5e-3", "25", 4, "0.0025")]
    [InlineData("2.5E3", "2500", 0, "2500")]
    [InlineData("1.23E-05", "123", 7, "0.0000123")]
    [InlineData("-4.2e+1", "-42", 0, "-42")]
    [InlineData("1e0", "1", 0, "1")]
    [InlineData("1E-18", "1", 18, "0.000000000000000001")]
    [InlineData("123456789012345678901234567890.123456789", "123456789012345678901234567890123456789", 9,
        "123456789012345678901234567890.123456789")]
    public void TryParse_accepts_plain_and_exponent_notation(string text, string unscaled, int scale, string plain)
    {
        Assert.True(ExactDecimal.TryParse(text, out var value));
        Assert.Equal(Big(unscaled), value.Unscaled);
        Assert.Equal(scale, value.Scale);
        Assert.Equal(plain, value.ToPlainString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("1.2.3")]
    [InlineData("abc")]
    [InlineData("1e")]
    [InlineData("1E+")]
    [InlineData("e5")]
    [InlineData("-")]
    [InlineData("+")]
    [InlineData(".")]
    [InlineData("-.")]
    [InlineData("--1")]
    [InlineData("+-1")]
    [InlineData(" 1")]
    [InlineData("1 ")]
    [InlineData("1,5")]
    [InlineData("1_000")]
    [InlineData("0x10")]
    [InlineData("1e1.5")]
    [InlineData("1e5e5")]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    [InlineData("-Infinity")]
    [InlineData("\u0661\u0662")] // Arabic-Indic digits are digits to char.IsDigit, not to a JSON number.
    [InlineData("1e99999999999")] // exponent beyond int
    [InlineData("1e-2147483648")] // exponent int.MinValue: must not overflow the scale computation
    [InlineData("1e1001")] // beyond ExponentMagnitudeMax: 10^exponent must stay cheap to compute
    [InlineData("1e-1001")]
    [InlineData("1e10000000")]
    [InlineData("5e2147483647")]
    public void TryParse_rejects_text_that_is_not_a_decimal_number(string text)
    {
        Assert.False(ExactDecimal.TryParse(text, out _));
    }

    [Fact]
    public void TryParse_accepts_exponents_up_to_the_bound()
    {
        Assert.Equal(1000, ExactDecimal.ExponentMagnitudeMax);
        Assert.True(ExactDecimal.TryParse("1e1000", out var large));
        Assert.Equal(new ExactDecimal(BigInteger.Pow(10, 1000), 0), large);
        Assert.True(ExactDecimal.TryParse("-1e-1000", out var small));
        Assert.Equal(new ExactDecimal(-1, 1000), small);
        Assert.Equal("-0." + new string('0', 999) + "1", small.ToPlainString());
    }

    [Theory]
    [InlineData("1", 3, "0.001")]
    [InlineData("-5", 1, "-0.5")]
    [InlineData("120", 1, "12")]
    [InlineData("-1234500", 4, "-123.45")]
    [InlineData("0", 0, "0")]
    [InlineData("0", 5, "0")]
    [InlineData("1000", 0, "1000")]
    [InlineData("100000000000000000000000000000007", 2, "1000000000000000000000000000000.07")]
    public void ToPlainString_never_uses_an_exponent_and_drops_trailing_fraction_zeros(string unscaled, int scale,
        string expected)
    {
        Assert.Equal(expected, new ExactDecimal(Big(unscaled), scale).ToPlainString());
    }

    [Theory]
    [InlineData("1.005", "100", "101")]
    [InlineData("1.004", "100", "100")]
    [InlineData("-1.005", "100", "-101")]
    [InlineData("-1.004", "100", "-100")]
    [InlineData("0.5", "1", "1")]
    [InlineData("-0.5", "1", "-1")]
    [InlineData("0.4999999999999999999999", "1", "0")]
    [InlineData("7", "3", "21")]
    [InlineData("0.1", "3", "0")]
    public void MultiplyRoundHalfAwayFromZero(string text, string factor, string expected)
    {
        Assert.True(ExactDecimal.TryParse(text, out var value));
        Assert.Equal(Big(expected), value.MultiplyRoundHalfAwayFromZero(Big(factor)));
    }

    public static TheoryData<double, string> ShortestFormats => new()
    {
        { 100.0, "100" },
        { 1e21, "1000000000000000000000" },
        { 1e22, "10000000000000000000000" },
        { 0.1, "0.1" },
        { 0.30000000000000004, "0.30000000000000004" },
        { 1.005, "1.005" },
        { 1250.34, "1250.34" },
        { -1.5, "-1.5" },
        { 1e-7, "0.0000001" },
        { 1.23e-5, "0.0000123" },
        { 123456789.125, "123456789.125" },
        { 123456789012345.0, "123456789012345" },
        { 0.0, "0" },
        { 5e-324, "0." + new string('0', 323) + "5" },
        { double.MaxValue, "17976931348623157" + new string('0', 292) },
    };

    [Theory]
    [MemberData(nameof(ShortestFormats))]
    public void FormatShortest_matches_Go_FormatFloat_f_minus_1(double value, string expected)
    {
        Assert.Equal(expected, Precision.FormatShortest(value));
    }

    private static BigInteger Big(string value) => BigInteger.Parse(value, CultureInfo.InvariantCulture);
}
