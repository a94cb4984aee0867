using Blnk.Server.Errors;
using Blnk.Server.Http;
using Blnk.Server.Json;

namespace Blnk.Server.Features.Refunds;

/// <summary><c>POST /refund-transaction/{id}</c>: the body is optional, as in Blnk.</summary>
public static class RefundEndpoints
{
    public static void MapRefundEndpoints(this IEndpointRouteBuilder routes) =>
        routes.MapPost("/refund-transaction/{id}", RefundAsync).WithName("Transactions_Refund");

    private static async Task<IResult> RefundAsync(string id, HttpContext context, RefundService refunds)
    {
        var (body, error) = await RequestBody.ReadOptionalAsync(context, Wire.Lifecycle.RefundRequest);
        if (error is not null)
        {
            return new ErrorResult(error);
        }
        var result = await refunds.RefundAsync(id, body ?? new RefundRequest(), context.RequestAborted);
        if (result.Preview is not null)
        {
            return TypedResults.Json(result.Preview, Wire.Lifecycle.DryRunPreview);
        }
        return result.Error is not null
            ? new ErrorResult(result.Error)
            : TypedResults.Json(result.Row!.ToWire(), Wire.Context.TransactionResponse, statusCode: 201);
    }
}
