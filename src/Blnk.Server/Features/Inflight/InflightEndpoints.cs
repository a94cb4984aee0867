using Blnk.Server.Errors;
using Blnk.Server.Http;
using Blnk.Server.Json;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Blnk.Server.Features.Inflight;

/// <summary>Inflight commit and void, one hold or up to 100 at a time (contract §4.5.5–4.5.6).</summary>
public static class InflightEndpoints
{
    public const int BulkItemsMax = 100;

    public static void MapInflightEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapPut("/transactions/inflight/{id}", ResolveAsync).WithName("Transactions_Inflight");
        routes.MapPost("/transactions/inflight/bulk/commit", BulkCommitAsync).WithName("Transactions_BulkCommit");
        routes.MapPost("/transactions/inflight/bulk/void", BulkVoidAsync).WithName("Transactions_BulkVoid");
    }

    private static async Task<IResult> ResolveAsync(string id, HttpContext context, InflightService inflight)
    {
        var (request, error) = await RequestBody.ReadAsync(context, Wire.Lifecycle.InflightActionRequest);
        if (error is not null)
        {
            return new ErrorResult(error);
        }
        var status = request!.Status?.Trim().ToLowerInvariant();
        if (status is not ("commit" or "void"))
        {
            return new ErrorResult(new ApiError(ErrorCodes.InvalidStatusAction,
                "status not supported. use either commit or void"));
        }
        var result = await inflight.ResolveAsync(id, status == "commit", request.Amount, request.PreciseAmount,
            ModeOf(request.SkipQueue, request.DryRun), context.RequestAborted);
        if (result.Preview is not null)
        {
            return TypedResults.Json(result.Preview, Wire.Lifecycle.DryRunPreview);
        }
        if (result.Error is not null)
        {
            return new ErrorResult(result.Error);
        }
        var response = result.Row!.ToWire();
        return TypedResults.Json(result.Queued ? response with { Queued = true } : response,
            Wire.Context.TransactionResponse);
    }

    private static async Task<IResult> BulkCommitAsync(HttpContext context, InflightService inflight)
    {
        var (request, error) = await RequestBody.ReadAsync(context, Wire.Lifecycle.BulkCommitRequest);
        error ??= CheckCount(request?.Transactions?.Count ?? 0, "transactions");
        if (error is not null)
        {
            return new ErrorResult(error);
        }
        var mode = ModeOf(request!.SkipQueue, request.DryRun);
        var results = await Task.WhenAll(request.Transactions!.Select(item => ItemAsync(item?.TransactionId,
            id => inflight.ResolveAsync(id, true, item!.Amount, item.PreciseAmount, mode, context.RequestAborted))));
        return Summary(results);
    }

    private static async Task<IResult> BulkVoidAsync(HttpContext context, InflightService inflight)
    {
        var (request, error) = await RequestBody.ReadAsync(context, Wire.Lifecycle.BulkVoidRequest);
        error ??= CheckCount(request?.TransactionIds?.Count ?? 0, "transaction_ids");
        if (error is not null)
        {
            return new ErrorResult(error);
        }
        var mode = ModeOf(request!.SkipQueue, request.DryRun);
        var results = await Task.WhenAll(request.TransactionIds!.Select(id => ItemAsync(id,
            transactionId => inflight.ResolveAsync(transactionId, false, null, null, mode, context.RequestAborted))));
        return Summary(results);
    }

    private static async Task<BulkInflightItemResult> ItemAsync(string? transactionId,
        Func<string, Task<InflightResult>> resolve)
    {
        if (string.IsNullOrWhiteSpace(transactionId))
        {
            return new BulkInflightItemResult
            {
                TransactionId = "", Status = "failed", Code = "NOT_FOUND", Message = "transaction_id is required",
            };
        }
        var result = await resolve(transactionId);
        if (result.Error is { } error)
        {
            var alreadyQueued = error.Code == ErrorCodes.Conflict;
            return new BulkInflightItemResult
            {
                TransactionId = transactionId, Status = alreadyQueued ? "queued" : "failed",
                Code = alreadyQueued ? "ALREADY_QUEUED" : ItemCode(error.Code), Message = error.Message,
            };
        }
        return new BulkInflightItemResult
        {
            TransactionId = transactionId,
            Status = result.Queued ? "queued" : "succeeded",
            Code = result.Queued ? "QUEUED" : null,
            Preview = result.Preview,
        };
    }

    private static JsonHttpResult<BulkInflightResponse> Summary(BulkInflightItemResult[] results) => TypedResults.Json(new BulkInflightResponse
    {
        Succeeded = results.Count(result => result.Status != "failed"),
        Failed = results.Count(result => result.Status == "failed"),
        Results = [.. results],
    }, Wire.Lifecycle.BulkInflightResponse);

    private static string ItemCode(string code) => code switch
    {
        ErrorCodes.TransactionNotFound => "NOT_FOUND",
        ErrorCodes.AlreadyVoided => "ALREADY_VOIDED",
        ErrorCodes.AlreadyCommitted => "ALREADY_COMMITTED",
        ErrorCodes.NotInflight => "NOT_INFLIGHT",
        ErrorCodes.InvalidAmount or ErrorCodes.CommitAmountExceeded => "INVALID_AMOUNT",
        ErrorCodes.QueueBackpressure => "LOCKED",
        _ => "INTERNAL_ERROR",
    };

    private static ApiError? CheckCount(int count, string field)
    {
        if (count == 0)
        {
            return new ApiError(ErrorCodes.BulkEmpty, $"{field} cannot be empty");
        }
        return count > BulkItemsMax
            ? new ApiError(ErrorCodes.BulkLimitExceeded, $"too many {field}; max is {BulkItemsMax}")
            : null;
    }

    private static InflightMode ModeOf(bool skipQueue, bool dryRun) =>
        dryRun ? InflightMode.DryRun : skipQueue ? InflightMode.Synchronous : InflightMode.Queued;
}
