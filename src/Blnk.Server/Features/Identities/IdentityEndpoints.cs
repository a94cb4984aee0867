using System.Text.Json;
using System.Text.RegularExpressions;
using Blnk.Core.Identities;
using Blnk.Server.Errors;
using Blnk.Server.Features.History;
using Blnk.Server.Features.Webhooks;
using Blnk.Server.Http;
using Blnk.Server.Json;
using Blnk.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Blnk.Server.Features.Identities;

/// <summary>
/// <c>/identities</c>: create, get, list, partial update, delete (contract §4.6); and
/// <c>PUT /balances/{id}/identity</c>, which links a balance to one (§4.3).
/// </summary>
public static partial class IdentityEndpoints
{
    public static void MapIdentityEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/identities", CreateAsync).WithName("Identities_Create");
        routes.MapGet("/identities/{id}", GetAsync).WithName("Identities_Get");
        routes.MapGet("/identities", ListAsync).WithName("Identities_List");
        routes.MapPut("/identities/{id}", UpdateAsync).WithName("Identities_Update");
        routes.MapDelete("/identities/{id}", DeleteAsync).WithName("Identities_Delete");
        routes.MapPut("/balances/{id}/identity", LinkBalanceAsync).WithName("Balances_LinkIdentity");
    }

    private static async Task<IResult> CreateAsync(HttpContext context, ILedgerStore store, IdGenerator ids,
        TimeProvider clock, EventOutbox eventOutbox)
    {
        var (request, error) = await RequestBody.ReadAsync(context, Wire.Identities.IdentityRequest);
        if (error is not null)
        {
            return new ErrorResult(error);
        }
        var identityId = string.IsNullOrEmpty(request!.IdentityId)
            ? ids.New(IdGenerator.IdentityPrefix)
            : request.IdentityId;
        var invalidDob = ParseDob(request.Dob, out var dob);
        var invalid = ValidateIdentityId(identityId) ?? invalidDob;
        if (invalid is not null)
        {
            return new ErrorResult(invalid);
        }
        var identity = new Identity
        {
            IdentityId = identityId,
            IdentityType = request.IdentityType ?? "",
            OrganizationName = request.OrganizationName ?? "",
            Category = request.Category ?? "",
            FirstName = request.FirstName ?? "",
            LastName = request.LastName ?? "",
            OtherNames = request.OtherNames ?? "",
            Gender = request.Gender ?? "",
            EmailAddress = request.EmailAddress ?? "",
            PhoneNumber = request.PhoneNumber ?? "",
            Nationality = request.Nationality ?? "",
            Street = request.Street ?? "",
            Country = request.Country ?? "",
            State = request.State ?? "",
            PostCode = request.PostCode ?? "",
            City = request.City ?? "",
            Dob = dob,
            CreatedAt = Clock.Now(clock),
            MetaDataJson = request.MetaData?.ToJsonString(),
        };
        var created = eventOutbox.For("identity.created",
            JsonSerializer.Serialize(identity.ToWire(), Wire.Context.IdentityResponse), identity.IdentityId);
        return await store.InsertIdentityAsync(identity, context.RequestAborted, created) switch
        {
            IdentityInsertOutcome.Inserted =>
                TypedResults.Json(identity.ToWire(), Wire.Context.IdentityResponse, statusCode: 201),
            // Blnk's core calls this a conflict, but its handler reports it as a validation error (400).
            IdentityInsertOutcome.DuplicateId => new ErrorResult(new ApiError(ErrorCodes.IdentityValidation,
                $"Identity already exists: {identity.IdentityId}")),
        };
    }

    private static async Task<IResult> GetAsync(string id, ILedgerStore store, CancellationToken cancellationToken)
    {
        var identity = await store.GetIdentityAsync(id, cancellationToken);
        return identity is null
            ? NotFound(id)
            : TypedResults.Json(identity.ToWire(), Wire.Context.IdentityResponse);
    }

    /// <remarks>
    /// Blnk returns every row unless query filters are present; this list always pages, with the lenient
    /// rules of Blnk's filtered path (a bad limit or offset falls back to 20 / 0).
    /// </remarks>
    private static async Task<IResult> ListAsync(HttpRequest request, ILedgerStore store,
        CancellationToken cancellationToken)
    {
        var (limit, offset) = Paging.Lenient(request, 20);
        var identities = await store.ListIdentitiesAsync(limit, offset, cancellationToken);
        return TypedResults.Json(identities.Select(identity => identity.ToWire()).ToList(),
            Wire.Identities.ListIdentityResponse);
    }

    private static async Task<IResult> UpdateAsync(string id, HttpContext context, ILedgerStore store)
    {
        var (request, error) = await RequestBody.ReadAsync(context, Wire.Identities.IdentityRequest);
        if (error is not null)
        {
            return new ErrorResult(error);
        }
        var invalidDob = ParseDob(request!.Dob, out var dob);
        if (invalidDob is not null)
        {
            return new ErrorResult(invalidDob);
        }
        var changes = ChangesOf(request, dob);
        // As Blnk: an empty update is refused before the id is looked up.
        if (changes.IsEmpty)
        {
            return new ErrorResult(new ApiError(ErrorCodes.BadRequest, "No fields provided for update"));
        }
        return await store.UpdateIdentityAsync(id, changes, context.RequestAborted)
            ? Message("Identity updated successfully")
            : NotFound(id);
    }

    private static async Task<IResult> DeleteAsync(string id, ILedgerStore store,
        CancellationToken cancellationToken) =>
        await store.DeleteIdentityAsync(id, cancellationToken) switch
        {
            IdentityDeleteOutcome.Deleted => Message("Identity deleted successfully"),
            IdentityDeleteOutcome.NotFound => NotFound(id),
            // Blnk lets the foreign key fail with a 500 here (decision in docs/decisions.md).
            IdentityDeleteOutcome.StillReferenced => new ErrorResult(new ApiError(ErrorCodes.Conflict,
                $"Identity with ID '{id}' cannot be deleted: balances (or their fund lineage) still reference it")),
        };

    private static async Task<IResult> LinkBalanceAsync(string id, HttpContext context, ILedgerStore store)
    {
        var (request, error) = await RequestBody.ReadAsync(context, Wire.Identities.BalanceIdentityRequest);
        if (error is not null)
        {
            return new ErrorResult(error);
        }
        if (string.IsNullOrEmpty(request!.IdentityId))
        {
            return new ErrorResult(new ApiError(ErrorCodes.ValidationError, "identity_id is required"));
        }
        var identityId = request.IdentityId;
        return await store.LinkBalanceIdentityAsync(id, identityId, context.RequestAborted) switch
        {
            BalanceIdentityLinkOutcome.Linked => Message("Balance identity updated successfully"),
            BalanceIdentityLinkOutcome.UnknownIdentity => new ErrorResult(new ApiError(ErrorCodes.BalanceValidation,
                $"identity validation failed: Identity with ID '{identityId}' not found")),
            BalanceIdentityLinkOutcome.UnknownBalance => new ErrorResult(new ApiError(ErrorCodes.BalanceValidation,
                $"balance validation failed: Balance with ID '{id}' not found")),
        };
    }

    /// <summary>A caller-supplied id must be <c>idt_</c> and a UUID, with Blnk's texts.</summary>
    private static ApiError? ValidateIdentityId(string identityId)
    {
        if (!identityId.StartsWith(IdGenerator.IdentityPrefix + "_", StringComparison.Ordinal))
        {
            return new ApiError(ErrorCodes.IdentityValidation, "identity_id must start with the 'idt_' prefix");
        }
        return UuidPattern().IsMatch(identityId[(IdGenerator.IdentityPrefix.Length + 1)..])
            ? null
            : new ApiError(ErrorCodes.IdentityValidation, "identity_id suffix after 'idt_' must be a valid UUID");
    }

    /// <summary>
    /// <c>dob</c> as an RFC 3339 time; absent, empty or Go's zero time means unset (null), as Blnk treats
    /// the zero time as "no date".
    /// </summary>
    private static ApiError? ParseDob(string? text, out DateTime? dob)
    {
        dob = null;
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }
        if (!Rfc3339.TryParse(text, out var parsed))
        {
            return new ApiError(ErrorCodes.IdentityValidation,
                "dob must be an RFC 3339 time (e.g., 1990-01-31T00:00:00Z)");
        }
        dob = parsed == DateTime.MinValue ? null : parsed;
        return null;
    }

    /// <summary>Blnk's partial update: only non-empty text and a set <c>dob</c> are written.</summary>
    private static IdentityChanges ChangesOf(IdentityRequest request, DateTime? dob) => new()
    {
        IdentityType = NullIfEmpty(request.IdentityType),
        OrganizationName = NullIfEmpty(request.OrganizationName),
        Category = NullIfEmpty(request.Category),
        FirstName = NullIfEmpty(request.FirstName),
        LastName = NullIfEmpty(request.LastName),
        OtherNames = NullIfEmpty(request.OtherNames),
        Gender = NullIfEmpty(request.Gender),
        EmailAddress = NullIfEmpty(request.EmailAddress),
        PhoneNumber = NullIfEmpty(request.PhoneNumber),
        Nationality = NullIfEmpty(request.Nationality),
        Street = NullIfEmpty(request.Street),
        Country = NullIfEmpty(request.Country),
        State = NullIfEmpty(request.State),
        PostCode = NullIfEmpty(request.PostCode),
        City = NullIfEmpty(request.City),
        Dob = dob,
        MetaDataJson = request.MetaData?.ToJsonString(),
    };

    private static string? NullIfEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;

    private static JsonHttpResult<MessageResponse> Message(string message) =>
        TypedResults.Json(new MessageResponse { Message = message }, Wire.Identities.MessageResponse);

    private static ErrorResult NotFound(string id) =>
        new(new ApiError(ErrorCodes.IdentityNotFound, $"Identity with ID '{id}' not found"));

    // \z, not $: "$" also matches before a final line feed, which would let "idt_<uuid>\n" through.
    [GeneratedRegex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\\z")]
    private static partial Regex UuidPattern();
}
