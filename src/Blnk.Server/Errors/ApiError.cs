using System.Text.Json.Nodes;

namespace Blnk.Server.Errors;

/// <summary>
/// An error answer in Blnk's envelope: the legacy field (<c>error</c>, or <c>errors</c> on the
/// endpoints where Blnk uses the plural) plus <c>error_detail{code,message,details}</c>. The HTTP
/// status follows from the code alone (<see cref="ErrorCatalog"/>).
/// </summary>
public sealed record ApiError(string Code, string Message, JsonNode? Details = null, bool PluralLegacyKey = false)
{
    /// <summary>Bulk failures also carry the batch id at the top level, as Blnk's do.</summary>
    public string? BatchId { get; init; }

    /// <summary>
    /// Hook endpoints' legacy shape: top-level <c>code</c> (Blnk's legacy code, e.g. <c>INVALID_INPUT</c>),
    /// <c>message</c> and <c>details</c> instead of <c>error</c> (contract §2.3).
    /// </summary>
    public string? HookLegacyCode { get; init; }

    public int Status => ErrorCatalog.StatusOf(Code);

    public static ApiError Validation(string code, string message) => new(code, message, PluralLegacyKey: true);

    public static ApiError Internal() => new(ErrorCodes.Internal, "internal server error");
}
