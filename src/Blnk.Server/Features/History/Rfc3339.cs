using System.Globalization;
using System.Text.RegularExpressions;

namespace Blnk.Server.Features.History;

/// <summary>
/// Times as Go's <c>time.Parse(time.RFC3339, …)</c> reads them: a date, <c>T</c>, a time with optional
/// fractional seconds (either separator, any number of digits) and a mandatory <c>Z</c> or <c>±hh:mm</c>.
/// </summary>
public static partial class Rfc3339
{
    /// <summary>Parses <paramref name="text"/> into a UTC time truncated to the microseconds storage keeps.</summary>
    public static bool TryParse(string text, out DateTime utc)
    {
        utc = default;
        var match = Pattern().Match(text);
        if (!match.Success)
        {
            return false;
        }
        int Part(string name) => int.Parse(match.Groups[name].Value, CultureInfo.InvariantCulture);
        var (year, month, day) = (Part("y"), Part("mo"), Part("d"));
        var (hour, minute, second) = (Part("h"), Part("mi"), Part("s"));
        if (month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59
            || second > 59 || year < 1)
        {
            return false;
        }
        // Truncating (never rounding) keeps "at or before this instant" exact against microsecond rows.
        var fraction = match.Groups["f"].Value.PadRight(6, '0')[..6];
        var local = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Unspecified)
            .AddTicks(int.Parse(fraction, CultureInfo.InvariantCulture) * 10L);
        var offset = TimeSpan.Zero;
        if (match.Groups["z"].Value != "Z")
        {
            var (offsetHours, offsetMinutes) = (Part("oh"), Part("om"));
            if (offsetHours > 23 || offsetMinutes > 59)
            {
                return false;
            }
            offset = new TimeSpan(offsetHours, offsetMinutes, 0) * (match.Groups["z"].Value[0] == '-' ? -1 : 1);
        }
        var ticks = local.Ticks - offset.Ticks;
        if (ticks < DateTime.MinValue.Ticks || ticks > DateTime.MaxValue.Ticks)
        {
            return false;
        }
        utc = new DateTime(ticks, DateTimeKind.Utc);
        return true;
    }

    /// <summary>Go's <c>time.Time.String()</c> of a UTC time, e.g. <c>2024-01-01 15:04:05.5 +0000 UTC</c>.</summary>
    public static string GoString(DateTime utc) =>
        utc.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss.FFFFFFF", CultureInfo.InvariantCulture) + " +0000 UTC";

    [GeneratedRegex(@"^(?<y>[0-9]{4})-(?<mo>[0-9]{2})-(?<d>[0-9]{2})T(?<h>[0-9]{2}):(?<mi>[0-9]{2}):(?<s>[0-9]{2})" +
        @"(?:[.,](?<f>[0-9]+))?(?<z>Z|[+-](?<oh>[0-9]{2}):(?<om>[0-9]{2}))\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
