using System.Globalization;
using Blnk.Server.Errors;

namespace Blnk.Server.Http;

/// <summary>Blnk's <c>limit</c>/<c>offset</c> rules, which differ per list (contract §2.5).</summary>
public static class Paging
{
    /// <summary>The most rows one page returns, whatever the caller asks.</summary>
    public const int LimitMax = 1000;

    /// <summary>Strict lists: a malformed value is a 400 with the given texts.</summary>
    public static (int Limit, int Offset, ApiError? Error) Strict(HttpRequest request, int defaultLimit,
        string invalidLimitMessage, string invalidOffsetMessage)
    {
        if (!TryRead(request, "limit", defaultLimit, out var limit) || limit < 1)
        {
            return (0, 0, new ApiError(ErrorCodes.ValidationError, invalidLimitMessage));
        }
        if (!TryRead(request, "offset", 0, out var offset) || offset < 0)
        {
            return (0, 0, new ApiError(ErrorCodes.ValidationError, invalidOffsetMessage));
        }
        return (Math.Min(limit, LimitMax), offset, null);
    }

    /// <summary>Lenient lists: a malformed value silently falls back to the default.</summary>
    public static (int Limit, int Offset) Lenient(HttpRequest request, int defaultLimit)
    {
        var limit = TryRead(request, "limit", defaultLimit, out var parsedLimit) && parsedLimit > 0
            ? Math.Min(parsedLimit, LimitMax)
            : defaultLimit;
        var offset = TryRead(request, "offset", 0, out var parsedOffset) && parsedOffset >= 0 ? parsedOffset : 0;
        return (limit, offset);
    }

    private static bool TryRead(HttpRequest request, string name, int fallback, out int value)
    {
        var text = request.Query[name].ToString();
        if (text.Length == 0)
        {
            value = fallback;
            return true;
        }
        return int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
    }
}
