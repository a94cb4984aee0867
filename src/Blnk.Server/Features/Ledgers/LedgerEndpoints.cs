using System.Text.Json;
using Blnk.Core.Ledgers;
using Blnk.Server.Errors;
using Blnk.Server.Http;
using Blnk.Server.Features.Webhooks;
using Blnk.Server.Json;
using Blnk.Storage;

namespace Blnk.Server.Features.Ledgers;

/// <summary><c>/ledgers</c>: create, get, list, rename (contract §4.2).</summary>
public static class LedgerEndpoints
{
    public static void MapLedgerEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/ledgers", CreateAsync).WithName("Ledgers_Create");
        routes.MapGet("/ledgers/{id}", GetAsync).WithName("Ledgers_Get");
        routes.MapGet("/ledgers", ListAsync).WithName("Ledgers_List");
        routes.MapPut("/ledgers/{id}", RenameAsync).WithName("Ledgers_Rename");
    }

    private static async Task<IResult> CreateAsync(HttpContext context, ILedgerStore store, IdGenerator ids,
        TimeProvider clock, EventOutbox eventOutbox)
    {
        var (request, error) = await RequestBody.ReadAsync(context, Wire.Context.LedgerRequest);
        error ??= ValidateName(request?.Name);
        if (error is not null)
        {
            return new ErrorResult(error with { PluralLegacyKey = true });
        }
        var ledger = new Ledger(ids.New(IdGenerator.LedgerPrefix), request!.Name!, Clock.Now(clock),
            request.MetaData?.ToJsonString());
        await store.InsertLedgerAsync(ledger, context.RequestAborted, Created(eventOutbox, ledger));
        return TypedResults.Json(ledger.ToWire(), Wire.Context.LedgerResponse, statusCode: 201);
    }

    private static async Task<IResult> GetAsync(string id, ILedgerStore store, CancellationToken cancellationToken)
    {
        var ledger = await store.GetLedgerAsync(id, cancellationToken);
        return ledger is null
            ? NotFound()
            : TypedResults.Json(ledger.ToWire(), Wire.Context.LedgerResponse);
    }

    private static async Task<IResult> ListAsync(HttpRequest request, ILedgerStore store,
        CancellationToken cancellationToken)
    {
        var (limit, offset, error) = Paging.Strict(request, 10, "Invalid limit value", "Invalid offset value");
        if (error is not null)
        {
            return new ErrorResult(error);
        }
        var ledgers = await store.ListLedgersAsync(limit, offset, cancellationToken);
        return TypedResults.Json(ledgers.Select(ledger => ledger.ToWire()).ToList(),
            Wire.Context.ListLedgerResponse);
    }

    private static async Task<IResult> RenameAsync(string id, HttpContext context, ILedgerStore store,
        EventOutbox eventOutbox)
    {
        var (request, error) = await RequestBody.ReadAsync(context, Wire.Context.LedgerRequest);
        error ??= ValidateName(request?.Name);
        if (error is not null)
        {
            return new ErrorResult(error with { PluralLegacyKey = true });
        }
        var existing = await store.GetLedgerAsync(id, context.RequestAborted);
        var renamed = existing is null ? null : existing with { Name = request!.Name! };
        // Blnk reports a rename as ledger.created with the renamed ledger.
        if (renamed is null
            || !await store.RenameLedgerAsync(id, renamed.Name, context.RequestAborted, Created(eventOutbox, renamed)))
        {
            return NotFound();
        }
        return TypedResults.Json(renamed.ToWire(), Wire.Context.LedgerResponse);
    }

    private static IReadOnlyList<OutboxEvent> Created(EventOutbox eventOutbox, Ledger ledger) =>
        eventOutbox.For("ledger.created", JsonSerializer.Serialize(ledger.ToWire(), Wire.Context.LedgerResponse),
            ledger.LedgerId);

    private static ApiError? ValidateName(string? name) => string.IsNullOrWhiteSpace(name)
        ? new ApiError(ErrorCodes.ValidationError, "name: cannot be blank.")
        : null;

    private static ErrorResult NotFound() => new(new ApiError(ErrorCodes.LedgerNotFound, "Ledger not found"));
}
