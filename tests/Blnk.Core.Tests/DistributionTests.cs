using System.Globalization;
using System.Numerics;
using Blnk.Core.Money;
using Blnk.Core.Transactions;

namespace Blnk.Core.Tests;

// Covers Distribution.Split (contract §6.6): exact %/fixed/left/precise_distribution splits, Blnk's error texts, and
// seeded random splits that must sum exactly to the total; not the legs' transactions or references.
public sealed class DistributionTests
{
    private const string FixedExceeds = "fixed amount exceeds remaining transaction amount";
    private const string Exceeds = "total distributions exceed 100% or total amount";
    private const string MultipleLeft = "multiple identifiers with 'left' distribution";
    private const string PreciseFormat = "invalid precise_distribution format: must be an integer value in minor units";
    private const string FixedFormat = "invalid fixed amount format";
    private const string PercentageFormat = "invalid percentage format";
    private const string Missing = "distribution is required for each identifier";
    private const string Shortfall =
        "distributions must add up to 100% of the transaction amount or include a 'left' item";
    private const string Empty = "at least one distribution is required";

    private static readonly string[] KnownErrors =
        [FixedExceeds, Exceeds, MultipleLeft, PreciseFormat, FixedFormat, PercentageFormat, Missing, Shortfall];

    // Items: "id=text" sets distribution, "id~text" sets precise_distribution. Legs: "id:precise_amount".
    public static TheoryData<string, string, string, string> Splits => new()
    {
        // total, precision, items, legs
        { "100", "100", "a=33.33% b=66.67%", "a:33 b:67" },              // residue to the largest share
        { "1", "100", "a=33.33% b=66.67%", "a:1 b:0" },                  // total 1: first item takes it
        { "10001", "100", "a=33.33% b=66.67%", "a:3333 b:6668" },        // 3333.3333 + 6667.6667
        { "1000000000000000000000000000000", "100", "a=33.33% b=66.67%",
            "a:333300000000000000000000000000 b:666700000000000000000000000000" },
        { "10000", "100", "a=30% b=10.50 c=left", "a:3000 b:1050 c:5950" },
        { "3333", "100", "a=30% b=10.50 c=left", "a:999 b:1050 c:1284" }, // 999.9 + 1050 + 1283.1
        { "1005", "100", "a=90% b=left", "a:905 b:100" },                 // Blnk: residue to the largest, not left
        { "1000", "100", "a=left b=25% c=1.00", "a:650 b:250 c:100" },    // left first: order kept
        { "0", "100", "a=50% b=left c=10", "a:0 b:0 c:0" },               // total 0: all legs 0
        { "0", "100", "a=left", "a:0" },
        { "1", "100", "a=5 b=left", "a:1 b:0" },                          // amount checks skipped at total 1
        { "1", "1", "a=left b=50%", "a:1 b:0" },
        { "2", "1", "a=50% b=50%", "a:1 b:1" },
        { "2", "100", "a=33.33% b=33.33% c=33.34%", "a:2 b:0 c:0" },     // every share < 1: residue to the first
        { "150", "100", "a=0.5% b=99.5%", "a:0 b:150" },                  // 0.75 → 0, given to the largest %
        { "150", "100", "a=0.5% b=left", "a:0 b:150" },                   // no positive %: left takes it
        { "2000000000000000000", "1000000000000000000", "a=0.5 b=25% c=left",
            "a:500000000000000000 b:500000000000000000 c:1000000000000000000" },
        { "1000000000000000001", "1000000000000000000", "a=0.5 b=33.33% c=left",
            "a:500000000000000001 b:333300000000000000 c:166700000000000000" },
        { "10000", "100", "a~1006 b=left", "a:1006 b:8994" },             // precise_distribution is minor units
        { "10000", "100", "a=10% b~left", "a:1000 b:9000" },
        { "10000", "100", "a~2500 b~7500", "a:2500 b:7500" },
        { "1000000000000000000000000000000", "100", "a~123456789012345678901234567890 b=left",
            "a:123456789012345678901234567890 b:876543210987654321098765432110" }, // beyond 64 bits
        { "1000", "100", "a=2.555 b=left", "a:255 b:745" },               // 255.5 truncated; residue to left
        { "1000", "100", "a=5.005 b=33.3% c=16.65%", "a:501 b:333 c:166" }, // 500.5 + 333 + 166.5
        { "1000", "3", "a=0.1 b=left", "a:0 b:1000" },                    // 0.3 minor units → 0
        { "1000", "100", "a=100% b=left", "a:1000 b:0" },
        { "1000", "100", "a=10.00", "a:1000" },                           // fixed equal to the total
        { "1000", "100", "a=0 b=left", "a:0 b:1000" },                    // a zero leg is kept
        { "100", "100", "a=50% a=50%", "a:50 a:50" },                     // duplicate ids: one leg each
        { "1000", "100", "a=+2.50 b~+250 c=left", "a:250 b:250 c:500" },  // '+' as Go's parsers take it
        { "1000", "100", "a=.5 b=007% c=left", "a:50 b:70 c:880" },
    };

    [Theory]
    [MemberData(nameof(Splits))]
    public void Split_assigns_each_item_its_share_in_request_order(string total, string precision, string items,
        string legs)
    {
        var (actual, error) = Distribution.Split(Big(total), Big(precision), Items(items));
        Assert.Null(error);
        Assert.NotNull(actual);
        Assert.Equal(legs, string.Join(' ', actual.Select(leg => $"{leg.Identifier}:{Text(leg.PreciseAmount)}")));
    }

    public static TheoryData<string, string, string, string> Refusals => new()
    {
        // total, precision, items, error
        { "1000", "100", "a=10.01", FixedExceeds },
        { "1000", "100", "a=6 b=5 c=left", FixedExceeds },                // 600, then 500 > 400 left
        { "1000", "100", "a~1001", FixedExceeds },
        { "100", "100", "a=1.005 b=left", FixedExceeds },                 // 100.5 > 100 before truncation
        { "1000", "100", "a=60% b=50%", Exceeds },
        { "1", "100", "a=60% b=50%", Exceeds },                           // wrong whatever the total
        { "1000", "100", "a=100.0001% b=left", Exceeds },
        { "1000", "100", "a=6.00 b=50%", Exceeds },                       // 600 + 500: Blnk shrinks a leg
        { "1000", "100", "a=6.00 b=50% c=left", Exceeds },                // Blnk: left would be -100
        { "1000", "100", "a=left b=left", MultipleLeft },
        { "1000", "100", "a=left b~left", MultipleLeft },
        { "1000", "100", "a=50% a=left", MultipleLeft },                  // left shares an identifier
        { "0", "100", "a=left b=left", MultipleLeft },
        { "100", "100", "a=50% b=20%", Shortfall },                       // Blnk gives 30% to the largest
        { "1000", "100", "a=5.00", Shortfall },
        { "1000", "100", "a=5.00 b=40%", Shortfall },
        { "1000", "100", "a=abc", FixedFormat },
        { "1000", "100", "a=1e3", FixedFormat },
        { "1000", "100", "a=1E3 b=left", FixedFormat },
        { "1000", "100", "a=0x10", FixedFormat },
        { "1000", "100", "a=-5 b=left", FixedFormat },
        { "1000", "100", "a=-0 b=left", FixedFormat },
        { "1000", "100", "a=1.2.3", FixedFormat },
        { "1000", "100", "a=Infinity", FixedFormat },
        { "1000", "100", "a=NaN", FixedFormat },
        { "1000", "100", "a=LEFT", FixedFormat },
        { "1000", "100", "a=1_000", FixedFormat },
        { "0", "100", "a=abc b=left", FixedFormat },                       // formats are checked at total 0 too
        { "1000", "100", "a~abc", PreciseFormat },
        { "1000", "100", "a~1e3", PreciseFormat },
        { "1000", "100", "a~0x10", PreciseFormat },
        { "1000", "100", "a~-5 b=left", PreciseFormat },
        { "1000", "100", "a~1.5", PreciseFormat },
        { "1000", "100", "a~+", PreciseFormat },
        { "1000", "100", "a=10%% b=left", PercentageFormat },
        { "1000", "100", "a=abc% b=left", PercentageFormat },
        { "1000", "100", "a=1e1% b=left", PercentageFormat },
        { "1000", "100", "a=0x10% b=left", PercentageFormat },
        { "1000", "100", "a=-5% b=left", PercentageFormat },
        { "1000", "100", "a=% b=left", PercentageFormat },
        { "1000", "100", "a=abc% b=abc", FixedFormat },                   // Blnk's fixed pass reports first
        { "1000", "100", "a= b=left", Missing },                          // empty distribution, no precise
        { "1000", "100", "a=50% b=60% c=", Missing },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void Split_refuses_with_Blnks_error_text(string total, string precision, string items, string error)
    {
        var (legs, actual) = Distribution.Split(Big(total), Big(precision), Items(items));
        Assert.Null(legs);
        Assert.Equal(error, actual);
    }

    [Fact]
    public void Split_refuses_an_empty_list_and_an_item_with_neither_field()
    {
        Assert.Equal((null, Empty), Distribution.Split(100, 100, []));
        var neither = new DistributionItem("a", Distribution: null, PreciseDistribution: null);
        Assert.Equal((null, Missing), Distribution.Split(100, 100, [neither]));
    }

    [Fact]
    public void Split_classifies_as_Blnk_does_when_both_fields_are_set()
    {
        // A percentage wins over precise_distribution; "left" in either field wins over both.
        DistributionItem[] items =
        [
            new("a", Distribution: "10%", PreciseDistribution: "500"),
            new("b", Distribution: "20.00", PreciseDistribution: "300"),
            new("c", Distribution: "5", PreciseDistribution: "left"),
        ];
        var (legs, error) = Distribution.Split(10000, 100, items);
        Assert.Null(error);
        Assert.Equal([1000, 300, 8700], legs!.Select(leg => (int)leg.PreciseAmount));
    }

    [Fact]
    public void Split_bounds_the_length_of_a_number()
    {
        var longest = new string('0', Distribution.NumberTextLengthMax - 1) + "1";
        var (legs, error) = Distribution.Split(1000, 100, [new("a", longest, null), new("b", "left", null)]);
        Assert.Null(error);
        Assert.Equal([100, 900], legs!.Select(leg => (int)leg.PreciseAmount));
        var tooLong = "0" + longest;
        Assert.Equal((null, FixedFormat), Distribution.Split(1000, 100, [new("a", tooLong, null)]));
        Assert.Equal((null, PreciseFormat), Distribution.Split(1000, 100, [new("a", null, tooLong)]));
        Assert.Equal((null, PercentageFormat), Distribution.Split(1000, 100, [new("a", tooLong + "%", null)]));
    }

    [Theory]
    [InlineData(" 5")]
    [InlineData("5 ")]
    [InlineData("1,5")]
    [InlineData("\u0661\u0662")]
    public void Split_refuses_whitespace_separators_and_non_ASCII_digits(string text)
    {
        Assert.Equal((null, FixedFormat), Distribution.Split(1000, 100, [new("a", text, null)]));
        Assert.Equal((null, PreciseFormat), Distribution.Split(1000, 100, [new("a", null, text)]));
        Assert.Equal((null, PercentageFormat), Distribution.Split(1000, 100, [new("a", text + "%", null)]));
    }

    [Fact]
    public void Random_splits_sum_exactly_to_the_total_with_no_negative_leg_in_request_order()
    {
        // Seeded, so a failure reproduces. Totals up to 10^30; mixes of %, fixed (major and minor units) and left.
        var random = new Random(20260822);
        BigInteger[] precisions = [1, 3, 100, 1_000_000, BigInteger.Pow(10, 18)];
        const int runs = 3000;
        var accepted = 0;
        for (var run = 0; run < runs; run++)
        {
            var total = RandomTotal(random);
            var precision = precisions[random.Next(precisions.Length)];
            var (items, floors) = RandomItems(random, total, precision);
            var (legs, error) = Distribution.Split(total, precision, items);
            if (legs is null)
            {
                Assert.Contains(error, KnownErrors);
                continue;
            }
            accepted++;
            Assert.Null(error);
            Assert.Equal(items.Select(item => item.Identifier), legs.Select(leg => leg.Identifier));
            Assert.All(legs, leg => Assert.True(leg.PreciseAmount.Sign >= 0, $"run {run}: negative leg"));
            Assert.Equal(total, legs.Aggregate(BigInteger.Zero, (sum, leg) => sum + leg.PreciseAmount));
            // Above one unit each item gets at least the floor of what it asked (the residue only adds).
            for (var index = 0; index < legs.Count && total > 1; index++)
            {
                Assert.True(legs[index].PreciseAmount >= floors[index], $"run {run}: item {index} short");
            }
        }
        Assert.True(accepted >= runs / 2, $"only {accepted} of {runs} random splits were accepted");
    }

    private static BigInteger RandomTotal(Random random)
    {
        var digits = random.Next(0, 31);
        if (digits == 0)
        {
            return random.Next(0, 3); // 0, 1 and 2 take the small-total paths
        }
        var text = string.Concat(Enumerable.Range(0, digits).Select(_ => (char)('0' + random.Next(10))));
        return Big(text);
    }

    /// <summary>Items plus, for each, the floor of what it asks for in minor units (0 for "left").</summary>
    private static (DistributionItem[] Items, BigInteger[] Floors) RandomItems(Random random, BigInteger total,
        BigInteger precision)
    {
        var count = random.Next(1, 9);
        var mode = random.Next(100);
        var items = new DistributionItem[count];
        var floors = new BigInteger[count];
        if (mode < 25)
        {
            // Percentages summing to exactly 100% (in units of 0.0001%), no left: accepted for any total.
            var left = 1_000_000;
            for (var index = 0; index < count; index++)
            {
                var part = index == count - 1 ? left : random.Next(0, left + 1);
                left -= part;
                (items[index], floors[index]) = Percentage(index, part, total);
            }
            return (items, floors);
        }
        // Mostly within budget (fixed ≤ half, percentages ≤ 50%, one left); mode ≥ 85 may overrun or miss left.
        var overrun = mode >= 85 ? 4 : 1;
        var leftIndex = mode >= 85 && random.Next(2) == 0 ? -1 : random.Next(count);
        for (var index = 0; index < count; index++)
        {
            if (index == leftIndex)
            {
                // "left" in distribution, in precise_distribution, or in both.
                var where = random.Next(3);
                items[index] = new DistributionItem($"id{index}", where == 1 ? null : "left", where == 0 ? null : "left");
                continue;
            }
            if (random.Next(2) == 0)
            {
                var tenThousandths = random.Next(0, (overrun * 500_000 / count) + 1);
                (items[index], floors[index]) = Percentage(index, tenThousandths, total);
                continue;
            }
            var minorUnits = RandomBelow(random, overrun * total / (2 * count));
            var precise = random.Next(2) == 0;
            items[index] = precise
                ? new DistributionItem($"id{index}", null, Text(minorUnits))
                : new DistributionItem($"id{index}", Precision.ToAmountString(minorUnits, precision), null);
            // Major-unit text for precision 3 is rounded to 20 digits, so its floor may sit one below.
            floors[index] = precise || precision != 3 ? minorUnits : BigInteger.Max(minorUnits - 1, 0);
        }
        return (items, floors);
    }

    private static (DistributionItem Item, BigInteger Floor) Percentage(int index, int tenThousandths,
        BigInteger total)
    {
        var text = new ExactDecimal(tenThousandths, 4).ToPlainString() + "%";
        return (new DistributionItem($"id{index}", text, null), total * tenThousandths / 1_000_000);
    }

    private static BigInteger RandomBelow(Random random, BigInteger inclusiveMax)
    {
        var bytes = new byte[inclusiveMax.GetByteCount() + 1];
        random.NextBytes(bytes);
        return new BigInteger(bytes, isUnsigned: true) % (inclusiveMax + 1);
    }

    private static DistributionItem[] Items(string items) =>
        items.Split(' ').Select(token =>
        {
            var at = token.IndexOfAny(['=', '~']);
            var identifier = token[..at];
            var text = token[(at + 1)..];
            return token[at] == '='
                ? new DistributionItem(identifier, text, null)
                : new DistributionItem(identifier, null, text);
        }).ToArray();

    private static BigInteger Big(string value) => BigInteger.Parse(value, CultureInfo.InvariantCulture);

    private static string Text(BigInteger value) => value.ToString(CultureInfo.InvariantCulture);
}
