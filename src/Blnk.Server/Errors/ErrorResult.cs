using System.Text.Json;
using System.Text.Json.Nodes;

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
        if (error.HookLegacyCode is not null)
        {
            WriteHookLegacyFields(writer);
        }
        else
        {
            writer.WriteString(error.PluralLegacyKey ? "errors" : "error", error.Message);
        }
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

    private void WriteHookLegacyFields(Utf8JsonWriter writer)
    {
        writer.WriteString("code", error.HookLegacyCode);
        writer.WriteString("message", error.Message);
        writer.WritePropertyName("details");
        (error.Details ?? new JsonObject()).WriteTo(writer);
    }
}
