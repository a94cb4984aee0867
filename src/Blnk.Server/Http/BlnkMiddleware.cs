using System.Security.Cryptography;
using System.Text;
using Blnk.Server.Configuration;
using Blnk.Server.Errors;

namespace Blnk.Server.Http;

/// <summary>Blnk's cross-cutting HTTP behaviour: security headers and the master key (contract §2.2, §3).</summary>
public static class BlnkMiddleware
{
    public const string ApiKeyHeader = "X-Blnk-Key";

    public static void UseSecurityHeaders(this WebApplication app) => app.Use((context, next) =>
    {
        var headers = context.Response.Headers;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "strict-origin-when-cross-origin";
        headers.ContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'";
        headers.CacheControl = "no-store";
        if (context.Request.IsHttps
            || string.Equals(context.Request.Headers["X-Forwarded-Proto"], "https", StringComparison.OrdinalIgnoreCase))
        {
            headers.StrictTransportSecurity = "max-age=31536000; includeSubDomains";
        }
        return next(context);
    });

    /// <summary>In secure mode every route but <c>/</c> and <c>/health</c> needs the master key.</summary>
    public static void UseMasterKey(this WebApplication app, BlnkConfiguration configuration)
    {
        if (!configuration.Secure)
        {
            return;
        }
        var secret = Encoding.UTF8.GetBytes(configuration.SecretKey!);
        app.Use(async (context, next) =>
        {
            var path = context.Request.Path.Value ?? "/";
            if (path is "/" or "/health")
            {
                await next(context);
                return;
            }
            var key = context.Request.Headers[ApiKeyHeader].ToString();
            if (key.Length == 0)
            {
                await new ErrorResult(new ApiError(ErrorCodes.AuthMissingApiKey,
                    "Authentication required. Use X-Blnk-Key header")).ExecuteAsync(context);
                return;
            }
            if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(key), secret))
            {
                await new ErrorResult(new ApiError(ErrorCodes.AuthInvalidApiKey, "Invalid API key"))
                    .ExecuteAsync(context);
                return;
            }
            await next(context);
        });
    }
}
