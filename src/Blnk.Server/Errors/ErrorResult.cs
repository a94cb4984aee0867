using System.Text.Json;

namespace Blnk.Server.Errors;

/// <summary>The one error writer: Blnk's envelope, built with a plain JSON writer (no reflection).</summary>
public sealed class ErrorResult(ApiError error) : IResult
{
    public ApiError Error => error;

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.StatusCode = error.Status;
        httpContext.Response.ContentType = "application/json; charset=utf-8";
        await using var writer = new Utf8JsonWriter(httpContext.Response.Body, new JsonWriterOptions
        {
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        });
        writer.WriteStartObject();
        writer.WriteString(error.PluralLegacyKey ? "errors" : "error", error.Message);
        if (error.BatchId is not null)
        {
            writer.WriteString("batch_id", error.BatchId);
        }
        writer.WriteStartObject("error_detail");
        writer.WriteString("code", error.Code);
        writer.WriteString("message", error.Message);
        if (error.Details is not null)
        {
            writer.WritePropertyName("details");
            error.Details.WriteTo(writer);
        }
        writer.WriteEndObject();
        writer.WriteEndObject();
        await writer.FlushAsync(httpContext.RequestAborted);
    }
}
