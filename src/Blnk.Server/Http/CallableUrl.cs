using Blnk.Core;

namespace Blnk.Server.Http;

/// <summary>
/// Checks a URL the server will later call (a monitor's <c>call_back_url</c>, a hook's <c>url</c>) when it is
/// registered, so a typo is a 400 now rather than a delivery that fails for ever.
/// </summary>
public static class CallableUrl
{
    /// <summary>Why <paramref name="url"/> cannot be called, or null when it is an absolute http(s) URL.</summary>
    public static string? Problem(string url)
    {
        if (url.Length > Limits.UrlLengthMax)
        {
            return $"must be at most {Limits.UrlLengthMax} characters";
        }
        var absolute = Uri.TryCreate(url, UriKind.Absolute, out var uri)
            && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            && uri.Host.Length > 0;
        return absolute ? null : "must be an absolute http or https URL";
    }
}
