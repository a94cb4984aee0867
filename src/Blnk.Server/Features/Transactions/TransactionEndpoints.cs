using Blnk.Server.Errors;
using Blnk.Server.Http;
using Blnk.Server.Json;
using Blnk.Storage;

namespace Blnk.Server.Features.Transactions;

/// <summary><c>/transactions</c>: create (queued or <c>skip_queue</c>), get by id or reference, list (contract §4.5).</summary>
public static class TransactionEndpoints
{
    public static void MapTransactionEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/transactions", CreateAsync).WithName("Transactions_Create");
        routes.MapGet("/transactions/{id}", GetAsync).WithName("Transactions_Get");
        routes.MapGet("/transactions/reference/{reference}", GetByReferenceAsync).WithName("Transactions_GetByReference");
        routes.MapGet("/transactions", ListAsync).WithName("Transactions_List");
    }

    private static async Task<IResult> CreateAsync(HttpContext context, TransactionService transactions)
    {
        var (request, error) = await RequestBody.ReadAsync(context, Wire.Context.TransactionRequest,
            "Invalid input");
        if (error is not null)
        {
            return new ErrorResult(error);
        }
        var (valid, invalid) = TransactionValidator.Validate(request!);
        if (invalid is not null)
        {
            return new ErrorResult(invalid);
        }
        var result = await transactions.CreateAsync(valid!, context.RequestAborted);
        if (result.Preview is not null)
        {
            return TypedResults.Json(result.Preview, Wire.Lifecycle.DryRunPreview);
        }
        return result.Error is not null
            ? new ErrorResult(result.Error)
            : TypedResults.Json(result.Response!, Wire.Context.TransactionResponse, statusCode: 201);
    }

    private static async Task<IResult> GetAsync(string id, ILedgerStore store, CancellationToken cancellationToken)
    {
        var row = await store.GetTransactionAsync(id, cancellationToken);
        return row is null
            ? new ErrorResult(new ApiError(ErrorCodes.TransactionNotFound, $"Transaction with ID '{id}' not found"))
            : TypedResults.Json(row.ToWire(), Wire.Context.TransactionResponse);
    }

    private static async Task<IResult> GetByReferenceAsync(string reference, ILedgerStore store,
        CancellationToken cancellationToken)
    {
        var row = await store.GetTransactionByReferenceAsync(reference, cancellationToken);
        return row is null
            ? new ErrorResult(new ApiError(ErrorCodes.TransactionNotFound,
                $"Transaction with reference '{reference}' not found"))
            : TypedResults.Json(row.ToWire(), Wire.Context.TransactionResponse);
    }

    private static async Task<IResult> ListAsync(HttpRequest request, ILedgerStore store,
        CancellationToken cancellationToken)
    {
        var (limit, offset) = Paging.Lenient(request, 20);
        var rows = await store.ListTransactionsAsync(limit, offset, cancellationToken);
        return TypedResults.Json(rows.Select(row => row.ToWire()).ToList(),
            Wire.Context.ListTransactionResponse);
    }
}
