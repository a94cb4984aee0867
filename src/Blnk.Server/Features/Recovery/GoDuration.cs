using System.Globalization;
using System.Text;

namespace Blnk.Server.Features.Recovery;

/// <summary>
/// Go's <c>time.ParseDuration</c> and <c>time.Duration.String()</c>, so that thresholds read and print as
/// Blnk's do: <c>90s</c>, <c>1h30m</c>, <c>1.5h</c>, <c>-2m</c>; units ns, us (µs, μs), ms, s, m, h. A
/// duration is a whole number of nanoseconds in a signed 64-bit range.
/// </summary>
public static class GoDuration
{
    private static readonly (string Unit, ulong Nanoseconds)[] Units =
    [
        ("ns", 1), ("us", 1_000), ("\u00b5s", 1_000), ("\u03bcs", 1_000), ("ms", 1_000_000),
        ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000),
    ];

    private const ulong Limit = 1UL << 63;

    /// <summary>Parses as Go does (same overflow limits and float fraction arithmetic); on failure
    /// <paramref name="error"/> is Go's message.</summary>
    public static bool TryParse(string text, out long nanoseconds, out string error)
    {
        nanoseconds = 0;
        error = $"time: invalid duration {Quote(text)}";
        var rest = text.AsSpan();
        var negative = !rest.IsEmpty && rest[0] == '-';
        if (!rest.IsEmpty && rest[0] is '-' or '+')
        {
            rest = rest[1..];
        }
        if (rest is "0")
        {
            error = "";
            return true;
        }
        if (rest.IsEmpty)
        {
            return false;
        }
        ulong total = 0;
        while (!rest.IsEmpty)
        {
            if (!TryParseTerm(ref rest, text, out var term, ref error))
            {
                return false;
            }
            total += term;
            if (total > Limit)
            {
                return false;
            }
        }
        if (!negative && total > Limit - 1)
        {
            return false;
        }
        nanoseconds = negative ? unchecked((long)(0UL - total)) : (long)total;
        error = "";
        return true;
    }

    /// <summary>One <c>[0-9]*(.[0-9]*)?unit</c> term, in nanoseconds (at most 2^63).</summary>
    private static bool TryParseTerm(ref ReadOnlySpan<char> rest, string text, out ulong nanoseconds, ref string error)
    {
        nanoseconds = 0;
        if (rest[0] != '.' && !char.IsAsciiDigit(rest[0]))
        {
            return false;
        }
        var before = rest.Length;
        if (!TakeInteger(ref rest, out var whole))
        {
            return false;
        }
        var hasWhole = rest.Length != before;
        var (fraction, scale, hasFraction) = (0UL, 1d, false);
        if (!rest.IsEmpty && rest[0] == '.')
        {
            rest = rest[1..];
            before = rest.Length;
            (fraction, scale) = TakeFraction(ref rest);
            hasFraction = rest.Length != before;
        }
        if (!hasWhole && !hasFraction)
        {
            return false;
        }
        var unitLength = 0;
        while (unitLength < rest.Length && rest[unitLength] != '.' && !char.IsAsciiDigit(rest[unitLength]))
        {
            unitLength++;
        }
        if (unitLength == 0)
        {
            error = $"time: missing unit in duration {Quote(text)}";
            return false;
        }
        var unitText = rest[..unitLength].ToString();
        rest = rest[unitLength..];
        var unit = Array.Find(Units, candidate => candidate.Unit == unitText).Nanoseconds;
        if (unit == 0)
        {
            error = $"time: unknown unit {Quote(unitText)} in duration {Quote(text)}";
            return false;
        }
        if (whole > Limit / unit)
        {
            return false;
        }
        nanoseconds = whole * unit;
        if (fraction > 0)
        {
            nanoseconds += (ulong)(fraction * (unit / scale));
        }
        return nanoseconds <= Limit;
    }

    private static bool TakeInteger(ref ReadOnlySpan<char> rest, out ulong value)
    {
        value = 0;
        var length = 0;
        for (; length < rest.Length && char.IsAsciiDigit(rest[length]); length++)
        {
            if (value > Limit / 10)
            {
                return false;
            }
            value = value * 10 + (ulong)(rest[length] - '0');
            if (value > Limit)
            {
                return false;
            }
        }
        rest = rest[length..];
        return true;
    }

    /// <summary>The fraction's digits as an integer and its power of ten; digits beyond 2^63 are dropped.</summary>
    private static (ulong Value, double Scale) TakeFraction(ref ReadOnlySpan<char> rest)
    {
        var (value, scale, overflow, length) = (0UL, 1d, false, 0);
        for (; length < rest.Length && char.IsAsciiDigit(rest[length]); length++)
        {
            if (overflow || value > (Limit - 1) / 10 || value * 10 + (ulong)(rest[length] - '0') > Limit)
            {
                overflow = true;
                continue;
            }
            value = value * 10 + (ulong)(rest[length] - '0');
            scale *= 10;
        }
        rest = rest[length..];
        return (value, scale);
    }

    /// <summary>Go's <c>Duration.String()</c>: <c>2m0s</c>, <c>1h30m0s</c>, <c>1.5s</c>, <c>500ms</c>.</summary>
    public static string Format(long nanoseconds)
    {
        if (nanoseconds == 0)
        {
            return "0s";
        }
        var negative = nanoseconds < 0;
        var magnitude = negative ? 0UL - (ulong)nanoseconds : (ulong)nanoseconds;
        var text = new StringBuilder();
        if (magnitude < 1_000_000_000)
        {
            var (unit, scale) = magnitude < 1_000 ? ("ns", 1UL) : magnitude < 1_000_000 ? ("\u00b5s", 1_000UL)
                : ("ms", 1_000_000UL);
            text.Append(Decimal(magnitude, scale)).Append(unit);
        }
        else
        {
            var hours = magnitude / 3_600_000_000_000;
            var minutes = magnitude / 60_000_000_000 % 60;
            var seconds = Decimal(magnitude % 60_000_000_000, 1_000_000_000);
            if (hours > 0)
            {
                text.Append(hours.ToString(CultureInfo.InvariantCulture)).Append('h');
            }
            if (hours > 0 || minutes > 0)
            {
                text.Append(minutes.ToString(CultureInfo.InvariantCulture)).Append('m');
            }
            text.Append(seconds).Append('s');
        }
        return (negative ? "-" : "") + text;
    }

    /// <summary><paramref name="value"/>/<paramref name="scale"/> with the fraction's trailing zeros dropped.</summary>
    private static string Decimal(ulong value, ulong scale)
    {
        var whole = (value / scale).ToString(CultureInfo.InvariantCulture);
        var fraction = value % scale;
        if (fraction == 0)
        {
            return whole;
        }
        var width = scale.ToString(CultureInfo.InvariantCulture).Length - 1;
        return whole + "." + fraction.ToString(CultureInfo.InvariantCulture).PadLeft(width, '0').TrimEnd('0');
    }

    /// <summary>The quoting of Go's time package: non-ASCII and control bytes as <c>\xhh</c>.</summary>
    private static string Quote(string text)
    {
        var quoted = new StringBuilder("\"");
        Span<byte> bytes = stackalloc byte[4];
        foreach (var rune in text.EnumerateRunes())
        {
            if (rune.Value is < 0x20 or >= 0x80)
            {
                foreach (var b in bytes[..rune.EncodeToUtf8(bytes)])
                {
                    quoted.Append(CultureInfo.InvariantCulture, $"\\x{b:x2}");
                }
                continue;
            }
            if (rune.Value is '"' or '\\')
            {
                quoted.Append('\\');
            }
            quoted.Append((char)rune.Value);
        }
        return quoted.Append('"').ToString();
    }
}
