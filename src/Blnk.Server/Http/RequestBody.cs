using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Blnk.Server.Errors;

namespace Blnk.Server.Http;

/// <summary>Reads a JSON request body into its wire type, or says precisely why it could not.</summary>
public static class RequestBody
{
    /// <remarks><paramref name="malformedMessage"/> is Blnk's fixed text for the route, or null to explain the JSON error.</remarks>
    public static async Task<(T? Value, ApiError? Error)> ReadAsync<T>(HttpContext httpContext,
        JsonTypeInfo<T> typeInfo, string? malformedMessage = null) where T : class
    {
        try
        {
            var value = await JsonSerializer.DeserializeAsync(httpContext.Request.Body, typeInfo,
                httpContext.RequestAborted);
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
