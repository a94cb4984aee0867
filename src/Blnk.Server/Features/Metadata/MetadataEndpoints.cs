using System.Text.Json;
using System.Text.Json.Nodes;
using Blnk.Server.Errors;
using Blnk.Server.Http;
using Blnk.Server.Json;
using Blnk.Storage;

namespace Blnk.Server.Features.Metadata;

/// <summary><c>POST /{id}/metadata</c>: shallow-merge keys into an entity's meta_data (contract §4.8).</summary>
public static class MetadataEndpoints
{
    private const string InvalidEntityIdCode = "META_INVALID_ENTITY_ID";
    private const string EntityNotFoundCode = "META_ENTITY_NOT_FOUND";

    public static void MapMetadataEndpoints(this IEndpointRouteBuilder routes) =>
        routes.MapPost("/{id}/metadata", UpdateAsync).WithName("Metadata_Update");

    private static async Task<IResult> UpdateAsync(string id, HttpContext context, ILedgerStore store)
    {
        // As Blnk: the body is checked before the id.
        var (request, error) = await RequestBody.ReadAsync(context, Wire.History.MetaDataUpdateRequest);
        if (error is not null)
        {
            return new ErrorResult(error);
        }
        if (request!.MetaData is not { ValueKind: JsonValueKind.Object } metaData)
        {
            return new ErrorResult(new ApiError(ErrorCodes.ValidationError,
                "meta_data is required and must be a JSON object"));
        }
        if (EntityOf(id) is not { } entity)
        {
            return new ErrorResult(new ApiError(InvalidEntityIdCode, $"invalid entity ID format: {id}"));
        }
        var changes = ObjectOf(metaData);
        var merged = await store.MergeMetaDataAsync(entity, id, current => Merge(current, changes),
            context.RequestAborted);
        if (merged is null)
        {
            return new ErrorResult(new ApiError(EntityNotFoundCode, "entity not found"));
        }
        // Transactions echo the keys sent (one id may name many rows); the others their whole new map.
        var answer = entity == MetadataEntity.Transaction ? changes : (JsonObject)JsonNode.Parse(merged)!;
        return TypedResults.Json(new MetaDataUpdateResponse { MetaData = answer },
            Wire.History.MetaDataUpdateResponse);
    }

    /// <summary>Blnk's id prefixes; anything else (even <c>general_ledger_id</c>, as in Blnk) is refused.</summary>
    private static MetadataEntity? EntityOf(string id) => id switch
    {
        _ when id.StartsWith("txn_", StringComparison.Ordinal) => MetadataEntity.Transaction,
        _ when id.StartsWith("bulk_", StringComparison.Ordinal) => MetadataEntity.Transaction,
        _ when id.StartsWith("ldg_", StringComparison.Ordinal) => MetadataEntity.Ledger,
        _ when id.StartsWith("bln_", StringComparison.Ordinal) => MetadataEntity.Balance,
        _ when id.StartsWith("idt_", StringComparison.Ordinal) => MetadataEntity.Identity,
        _ => null,
    };

    /// <summary>Shallow merge: the stored keys, then the new ones over them.</summary>
    private static string Merge(string? current, JsonObject changes)
    {
        using var stored = JsonDocument.Parse(current ?? "{}");
        var merged = stored.RootElement.ValueKind == JsonValueKind.Object ? ObjectOf(stored.RootElement) : [];
        foreach (var (key, value) in changes)
        {
            merged[key] = value?.DeepClone();
        }
        return merged.ToJsonString();
    }

    /// <summary>An object's members as Go's decoder keeps them: exact keys, the last duplicate wins.</summary>
    private static JsonObject ObjectOf(JsonElement element)
    {
        var result = new JsonObject();
        foreach (var property in element.EnumerateObject())
        {
            result[property.Name] = JsonNode.Parse(property.Value.GetRawText());
        }
        return result;
    }
}
