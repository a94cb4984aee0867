using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Blnk.Server.Errors;

namespace Blnk.Server.Http;

/// <summary>Reads a JSON request body into its wire type, or says precisely why it could not.</summary>
public static class RequestBody
{
    /// <remarks><paramref name="malformedMessage"/> is Blnk's fixed text for the route, or null to explain the JSON error.</remarks>
    public static Task<(T? Value, ApiError? Error)> ReadAsync<T>(HttpContext httpContext,
        JsonTypeInfo<T> typeInfo, string? malformedMessage = null) where T : class =>
        ReadAsync(httpContext, typeInfo, malformedMessage, allowEmpty: false);

    /// <summary>As <see cref="ReadAsync{T}(HttpContext, JsonTypeInfo{T}, string?)"/>, but an empty body is no body: (null, null).</summary>
    public static Task<(T? Value, ApiError? Error)> ReadOptionalAsync<T>(HttpContext httpContext,
        JsonTypeInfo<T> typeInfo) where T : class => ReadAsync(httpContext, typeInfo, null, allowEmpty: true);

    private static async Task<(T? Value, ApiError? Error)> ReadAsync<T>(HttpContext httpContext,
        JsonTypeInfo<T> typeInfo, string? malformedMessage, bool allowEmpty) where T : class
    {
        try
        {
            using var body = new MemoryStream();
            await httpContext.Request.Body.CopyToAsync(body, httpContext.RequestAborted);
            if (ContainsNulEscape(body.GetBuffer().AsSpan(0, (int)body.Length)))
            {
                return (null, new ApiError(ErrorCodes.MalformedRequest,
                    "strings must not contain the NUL character (\\u0000)"));
            }
            if (allowEmpty && body.GetBuffer().AsSpan(0, (int)body.Length).Trim(" \t\r\n"u8).IsEmpty)
            {
                return (null, null);
            }
            // The body is in memory already: reading it from a span skips the stream reader's buffers and states.
            var value = JsonSerializer.Deserialize(body.GetBuffer().AsSpan(0, (int)body.Length), typeInfo);
            return value is null ? (null, Malformed(malformedMessage, "the request body must be a JSON object")) : (value, null);
        }
        catch (JsonException exception)
        {
            return (null, Malformed(malformedMessage, Explain(exception)));
        }
        catch (BadHttpRequestException exception) when (exception.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, new ApiError(ErrorCodes.PayloadTooLarge, "request body too large"));
        }
    }

    /// <summary>
    /// A NUL inside a JSON string (PostgreSQL stores neither text nor jsonb with one) would fail a whole
    /// writer batch; raw NUL bytes are invalid JSON anyway, so the escape is the only way in.
    /// </summary>
    private static bool ContainsNulEscape(ReadOnlySpan<byte> json)
    {
        for (var at = json.IndexOf("\\u0000"u8); at >= 0; at = json.IndexOf("\\u0000"u8))
        {
            var backslashes = 0;
            for (var i = at; i >= 0 && json[i] == (byte)'\\'; i--)
            {
                backslashes++;
            }
            if (backslashes % 2 == 1)
            {
                return true;
            }
            json = json[(at + 6)..];
        }
        return false;
    }

    private static ApiError Malformed(string? fixedMessage, string reason) => fixedMessage is null
        ? new ApiError(ErrorCodes.MalformedRequest, reason)
        : new ApiError(ErrorCodes.MalformedRequest, fixedMessage, new JsonObject { ["reason"] = reason });

    private static string Explain(JsonException exception)
    {
        var where = string.IsNullOrEmpty(exception.Path) || exception.Path == "$" ? "" : $" at {exception.Path}";
        var what = exception.InnerException?.Message ?? exception.Message;
        if (what.Contains("could not be converted", StringComparison.Ordinal))
        {
            what = "a value has the wrong JSON type";
        }
        return $"invalid JSON{where}: {what.Split(" Path:", 2)[0].Split(" LineNumber:", 2)[0]}";
    }
}
