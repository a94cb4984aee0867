using System.Numerics;
using Blnk.Core.Money;

namespace Blnk.Core.Transactions;

/// <summary>One <c>sources[]</c> / <c>destinations[]</c> entry as the client sent it.</summary>
/// <param name="Identifier">The balance id or <c>@indicator</c> the leg moves money from or to.</param>
/// <param name="Distribution"><c>"10%"</c>, a fixed major-unit amount (<c>"100.50"</c>) or <c>"left"</c>.</param>
/// <param name="PreciseDistribution">A fixed amount in integer minor units (<c>"1006"</c>) or <c>"left"</c>.</param>
public sealed record DistributionItem(string Identifier, string? Distribution, string? PreciseDistribution);

/// <summary>One leg of a split: the item's identifier and its share of the total in minor units.</summary>
public sealed record DistributionLeg(string Identifier, BigInteger PreciseAmount);

/// <summary>
/// Splits a transaction's precise amount across its sources or destinations (contract §6.6), exactly.
/// </summary>
/// <remarks>
/// <para>Reproduced from Blnk (<c>model/transaction.go</c>, <c>CalculateDistributionsPrecise</c>):</para>
/// <list type="bullet">
/// <item>Classification: an item is "left" when either field is <c>"left"</c>; else a percentage when
/// <c>distribution</c> ends in <c>%</c> (even if <c>precise_distribution</c> is set); else fixed, taken
/// from <c>precise_distribution</c> (minor units) when set, else from <c>distribution</c> × precision.</item>
/// <item>Each fixed amount, before truncation, must not exceed what earlier fixed items left of the total.</item>
/// <item>A fixed leg is its amount truncated to whole minor units ("2.555" at precision 100 → 255).</item>
/// <item>A percentage share is of the whole total; a share below one minor unit becomes 0 and its value
/// goes to the largest percentage share (Blnk's drift step); each share is then truncated.</item>
/// <item>"left" gets the truncated exact remainder; the sub-unit residue of all truncations
/// (less than one minor unit per item) then goes to the largest leg. So 90% / left of 1005 gives
/// 905 / 100, as Blnk does, not 904 / 101.</item>
/// <item>Total 0: every leg is 0. Total 1: the first item gets it. Error texts are Blnk's.</item>
/// </list>
/// <para>Where we differ (Blnk's outcome is unsafe or nondeterministic there):</para>
/// <list type="bullet">
/// <item>Arithmetic is exact (<see cref="BigInteger"/> at one common decimal scale). Blnk parses numbers as
/// float64 and divides to 16 digits; that differs only beyond about 15 significant digits.</item>
/// <item>Refused as invalid format: negative numbers (Blnk accepts them and yields negative legs),
/// exponent and hex notation, "Inf"/"NaN", and texts longer than <see cref="NumberTextLengthMax"/>.
/// <c>precise_distribution</c> is not limited to 64 bits.</item>
/// <item>Fixed plus percentage amounts above the total are refused with Blnk's "exceed" text; Blnk lets
/// "left" go negative or silently shrinks the largest leg.</item>
/// <item>A real shortfall with no "left" (50% + 20%) is refused; Blnk gives the missing 30% to the
/// largest leg. Only the sub-unit truncation residue is assigned that way.</item>
/// <item>Two "left" items are refused (Blnk silently drops the second). A "left" item sharing its identifier
/// with another item is refused as Blnk does; other duplicate identifiers get one leg each (Blnk's map
/// merges them). An item with neither field, or an empty list, is refused.</item>
/// <item>Every item gets a leg in request order, zero legs included (Blnk omits fixed "0" legs and emits legs
/// in Go map order). Ties for "largest" go to the earliest item (Blnk: map order).</item>
/// <item>The residue always lands: when every leg is 0 (2 units over three ~33% shares) Blnk finds no
/// positive "largest" leg and its legs sum to 0; here the first item takes the residue.</item>
/// <item>Formats, "left" count and the 100% check are validated for every total; the amount checks are
/// skipped for totals of 0 or 1 (Blnk skips all checks there). Format errors come before amount
/// errors: fixed-format, then percentage-format, then "left", then 100%, then amounts.</item>
/// </list>
/// </remarks>
public static class Distribution
{
    /// <summary>Characters in one number: far beyond any real amount, and keeps 10^scale cheap.</summary>
    public const int NumberTextLengthMax = 4 * Limits.PreciseAmountDigitsMax;

    private const string Left = "left";
    private const string ErrorEmpty = "at least one distribution is required";
    private const string ErrorMissing = "distribution is required for each identifier";
    private const string ErrorPreciseFormat =
        "invalid precise_distribution format: must be an integer value in minor units";
    private const string ErrorFixedFormat = "invalid fixed amount format";
    private const string ErrorPercentageFormat = "invalid percentage format";
    private const string ErrorFixedExceeds = "fixed amount exceeds remaining transaction amount";
    private const string ErrorExceeds = "total distributions exceed 100% or total amount";
    private const string ErrorMultipleLeft = "multiple identifiers with 'left' distribution";
    private const string ErrorShortfall =
        "distributions must add up to 100% of the transaction amount or include a 'left' item";

    /// <summary>Percentage digits: a share is total × percent / 100, two more decimal places.</summary>
    private const int PercentScale = 2;

    private enum ItemKind
    {
        Fixed,
        Percentage,
        Left,
    }

    /// <summary>A classified item. Fixed: amount in major units, or minor units when <c>InMinorUnits</c>.</summary>
    private readonly record struct ParsedItem(ItemKind Kind, ExactDecimal Number, bool InMinorUnits);

    /// <summary>
    /// Splits <paramref name="total"/> (minor units, &gt;= 0) across <paramref name="items"/> in request order;
    /// <paramref name="precision"/> (&gt;= 1) converts fixed major-unit amounts to minor units.
    /// </summary>
    /// <returns>The legs in the same order as the items, or an error message (Blnk's texts).</returns>
    public static (IReadOnlyList<DistributionLeg>? Legs, string? Error) Split(BigInteger total, BigInteger precision,
        IReadOnlyList<DistributionItem> items)
    {
        Invariant.Assert(total.Sign >= 0);
        Invariant.Assert(precision.Sign > 0);
        if (items.Count == 0)
        {
            return (null, ErrorEmpty);
        }
        var (parsed, error) = ParseItems(items);
        if (error is not null)
        {
            return (null, error);
        }
        error = CheckLeft(items, parsed) ?? CheckPercentageTotal(parsed);
        if (error is not null)
        {
            return (null, error);
        }
        if (total <= BigInteger.One)
        {
            // Nothing to split: Blnk hands a total of 1 to the first item and 0 to every other.
            var small = new BigInteger[items.Count];
            small[0] = total;
            return (ToLegs(items, small, total), null);
        }
        var (amounts, amountError) = SplitAmounts(total, precision, parsed);
        if (amountError is not null)
        {
            return (null, amountError);
        }
        return (ToLegs(items, amounts!, total), null);
    }

    private static (ParsedItem[] Parsed, string? Error) ParseItems(IReadOnlyList<DistributionItem> items)
    {
        var parsed = new ParsedItem[items.Count];
        string? fixedError = null;
        string? percentageError = null;
        for (var index = 0; index < items.Count; index++)
        {
            var item = items[index];
            if (string.IsNullOrEmpty(item.Distribution) && string.IsNullOrEmpty(item.PreciseDistribution))
            {
                return (parsed, ErrorMissing);
            }
            if (item.Distribution == Left || item.PreciseDistribution == Left)
            {
                parsed[index] = new ParsedItem(ItemKind.Left, default, InMinorUnits: false);
            }
            else if (item.Distribution is { } text && text.EndsWith('%'))
            {
                var ok = TryParsePlainDecimal(text[..^1], out var percent);
                percentageError ??= ok ? null : ErrorPercentageFormat;
                parsed[index] = new ParsedItem(ItemKind.Percentage, percent, InMinorUnits: false);
            }
            else if (!string.IsNullOrEmpty(item.PreciseDistribution))
            {
                var ok = TryParseMinorUnits(item.PreciseDistribution, out var minorUnits);
                fixedError ??= ok ? null : ErrorPreciseFormat;
                parsed[index] = new ParsedItem(ItemKind.Fixed, minorUnits, InMinorUnits: true);
            }
            else
            {
                var ok = TryParsePlainDecimal(item.Distribution!, out var majorUnits);
                fixedError ??= ok ? null : ErrorFixedFormat;
                parsed[index] = new ParsedItem(ItemKind.Fixed, majorUnits, InMinorUnits: false);
            }
        }
        // Blnk runs its fixed pass before its percentage pass, so a bad fixed amount is reported first.
        return (parsed, fixedError ?? percentageError);
    }

    /// <summary>A non-negative number in plain notation: what a person writes for an amount or a percent.</summary>
    private static bool TryParsePlainDecimal(string text, out ExactDecimal value)
    {
        value = default;
        // ExactDecimal accepts exponents ("1e3"); a distribution must not, so they are refused up front.
        if (text.Length > NumberTextLengthMax || text.StartsWith('-') || text.AsSpan().IndexOfAny('e', 'E') >= 0)
        {
            return false;
        }
        return ExactDecimal.TryParse(text, out value) && value.Unscaled.Sign >= 0;
    }

    /// <summary>ASCII digits with an optional '+', as Go's ParseInt takes them; no '-' (no negative legs).</summary>
    private static bool TryParseMinorUnits(string text, out ExactDecimal value)
    {
        value = default;
        var digits = text.StartsWith('+') ? text[1..] : text;
        if (digits.Length == 0 || digits.Length > NumberTextLengthMax || !digits.All(char.IsAsciiDigit))
        {
            return false;
        }
        var parsed = ExactDecimal.TryParse(digits, out value);
        Invariant.Assert(parsed);
        Invariant.Assert(value.Scale == 0);
        return true;
    }

    private static string? CheckLeft(IReadOnlyList<DistributionItem> items, ParsedItem[] parsed)
    {
        var leftIndex = -1;
        for (var index = 0; index < parsed.Length; index++)
        {
            if (parsed[index].Kind != ItemKind.Left)
            {
                continue;
            }
            if (leftIndex >= 0)
            {
                return ErrorMultipleLeft;
            }
            leftIndex = index;
        }
        if (leftIndex < 0)
        {
            return null;
        }
        // Blnk keys its result by identifier and refuses a "left" whose identifier already has a share.
        var leftIdentifier = items[leftIndex].Identifier;
        var shared = items.Where((item, index) => index != leftIndex)
            .Any(item => string.Equals(item.Identifier, leftIdentifier, StringComparison.Ordinal));
        return shared ? ErrorMultipleLeft : null;
    }

    /// <summary>Percentages above 100 in total are wrong whatever the amount, so this runs for every total.</summary>
    private static string? CheckPercentageTotal(ParsedItem[] parsed)
    {
        var percentages = parsed.Where(item => item.Kind == ItemKind.Percentage).Select(item => item.Number).ToList();
        if (percentages.Count == 0)
        {
            return null;
        }
        var scale = percentages.Max(percent => percent.Scale);
        var sum = percentages.Aggregate(BigInteger.Zero, (acc, percent) => acc + AtScale(percent, scale));
        return sum > 100 * BigInteger.Pow(10, scale) ? ErrorExceeds : null;
    }

    /// <summary>Blnk's passes for a total of at least 2 minor units; returns one amount per item.</summary>
    private static (BigInteger[]? Amounts, string? Error) SplitAmounts(BigInteger total, BigInteger precision,
        ParsedItem[] parsed)
    {
        Invariant.Assert(total > BigInteger.One);
        // Every exact share is a decimal: fixed = number × precision, percentage = total × percent / 100.
        // At one common scale they are integers, so every step below is exact integer arithmetic.
        var scale = parsed.Max(item => item.Number.Scale) + PercentScale;
        var unit = BigInteger.Pow(10, scale);
        var totalScaled = total * unit;
        var (exact, error) = ScaleFixedAmounts(totalScaled, precision, scale, parsed);
        if (error is not null)
        {
            return (null, error);
        }
        var tinyScaled = ScalePercentageShares(total, scale, unit, parsed, exact);
        var requestedScaled = exact.Aggregate(BigInteger.Zero, (sum, value) => sum + value) + tinyScaled;
        if (requestedScaled > totalScaled)
        {
            // Percentages are of the whole total, so fixed + percentages can overrun it; Blnk would make
            // "left" negative here. Refused with Blnk's text for an overrun.
            return (null, ErrorExceeds);
        }
        var leftIndex = Array.FindIndex(parsed, item => item.Kind == ItemKind.Left);
        if (leftIndex < 0 && requestedScaled < totalScaled)
        {
            return (null, ErrorShortfall);
        }
        AssignTinyShares(parsed, exact, tinyScaled);
        var amounts = exact.Select(value => value / unit).ToArray();
        if (leftIndex >= 0)
        {
            var assignedScaled = exact.Aggregate(BigInteger.Zero, (sum, value) => sum + value);
            amounts[leftIndex] = (totalScaled - assignedScaled) / unit;
        }
        AssignResidue(total, amounts);
        return (amounts, null);
    }

    /// <summary>Fixed items in request order, each checked against what earlier fixed items left over.</summary>
    private static (BigInteger[] Exact, string? Error) ScaleFixedAmounts(BigInteger totalScaled,
        BigInteger precision, int scale, ParsedItem[] parsed)
    {
        var exact = new BigInteger[parsed.Length];
        var remainingScaled = totalScaled;
        for (var index = 0; index < parsed.Length; index++)
        {
            var item = parsed[index];
            if (item.Kind != ItemKind.Fixed)
            {
                continue;
            }
            var minorUnitsScaled = AtScale(item.Number, scale) * (item.InMinorUnits ? BigInteger.One : precision);
            Invariant.Assert(minorUnitsScaled.Sign >= 0);
            // Compared before truncation, as Blnk does: 1.005 at precision 100 (100.5) exceeds a total of 100.
            if (minorUnitsScaled > remainingScaled)
            {
                return (exact, ErrorFixedExceeds);
            }
            exact[index] = minorUnitsScaled;
            remainingScaled -= minorUnitsScaled;
        }
        Invariant.Assert(remainingScaled.Sign >= 0);
        return (exact, null);
    }

    /// <summary>Writes each percentage share into <paramref name="exact"/>; returns the sub-unit shares' sum.</summary>
    private static BigInteger ScalePercentageShares(BigInteger total, int scale, BigInteger unit,
        ParsedItem[] parsed, BigInteger[] exact)
    {
        var tinyScaled = BigInteger.Zero;
        for (var index = 0; index < parsed.Length; index++)
        {
            var item = parsed[index];
            if (item.Kind != ItemKind.Percentage)
            {
                continue;
            }
            var shareScaled = total * AtScale(item.Number, scale - PercentScale);
            Invariant.Assert(shareScaled.Sign >= 0);
            // Blnk: "a positive share below 1 minor unit becomes 0"; its value is kept aside for the drift step.
            if (shareScaled < unit)
            {
                tinyScaled += shareScaled;
                shareScaled = BigInteger.Zero;
            }
            exact[index] = shareScaled;
        }
        return tinyScaled;
    }

    /// <summary>Blnk's drift step: zeroed sub-unit shares go to the largest percentage share, if positive.</summary>
    private static void AssignTinyShares(ParsedItem[] parsed, BigInteger[] exact, BigInteger tinyScaled)
    {
        if (tinyScaled.IsZero)
        {
            return;
        }
        var largest = -1;
        for (var index = 0; index < parsed.Length; index++)
        {
            if (parsed[index].Kind == ItemKind.Percentage && (largest < 0 || exact[index] > exact[largest]))
            {
                largest = index;
            }
        }
        Invariant.Assert(largest >= 0);
        // When every share is below one unit Blnk leaves them at 0; the value then reaches "left" or the residue.
        if (exact[largest].Sign > 0)
        {
            exact[largest] += tinyScaled;
        }
    }

    /// <summary>Blnk's last step: the truncation residue (under one unit per item) goes to the largest leg.</summary>
    private static void AssignResidue(BigInteger total, BigInteger[] amounts)
    {
        var residue = total - amounts.Aggregate(BigInteger.Zero, (sum, amount) => sum + amount);
        Invariant.Assert(residue.Sign >= 0);
        Invariant.Assert(residue < amounts.Length);
        var largest = 0;
        for (var index = 1; index < amounts.Length; index++)
        {
            if (amounts[index] > amounts[largest])
            {
                largest = index;
            }
        }
        amounts[largest] += residue;
    }

    /// <summary>The value's unscaled digits at a scale at least its own.</summary>
    private static BigInteger AtScale(ExactDecimal value, int scale)
    {
        Invariant.Assert(value.Scale >= 0);
        Invariant.Assert(scale >= value.Scale);
        return value.Unscaled * BigInteger.Pow(10, scale - value.Scale);
    }

    private static List<DistributionLeg> ToLegs(IReadOnlyList<DistributionItem> items, BigInteger[] amounts,
        BigInteger total)
    {
        Invariant.Assert(amounts.Length == items.Count);
        Invariant.Assert(amounts.All(amount => amount.Sign >= 0));
        Invariant.Assert(amounts.Aggregate(BigInteger.Zero, (sum, amount) => sum + amount) == total);
        return items.Select((item, index) => new DistributionLeg(item.Identifier, amounts[index])).ToList();
    }
}
