using Blnk.Server.Errors;
using Blnk.Server.Http;
using Blnk.Server.Json;

namespace Blnk.Server.Features.Bulk;

/// <summary><c>POST /transactions/bulk</c>: 201 when done, 202 with <c>run_async</c>, 200 for a dry run.</summary>
public static class BulkEndpoints
{
    public static void MapBulkEndpoints(this IEndpointRouteBuilder routes) =>
        routes.MapPost("/transactions/bulk", CreateAsync).WithName("Transactions_Bulk");

    private static async Task<IResult> CreateAsync(HttpContext context, BulkService bulk)
    {
        var (request, error) = await RequestBody.ReadAsync(context, Wire.Lifecycle.BulkRequest, "Invalid input");
        if (error is not null)
        {
            return new ErrorResult(error);
        }
        var result = await bulk.ProcessAsync(request!, context.RequestAborted);
        if (result.Preview is not null)
        {
            return TypedResults.Json(result.Preview, Wire.Lifecycle.BulkDryRunResponse);
        }
        if (result.Error is not null)
        {
            return new ErrorResult(result.Error);
        }
        var status = request!.RunAsync ? StatusCodes.Status202Accepted : StatusCodes.Status201Created;
        return TypedResults.Json(result.Response!, Wire.Lifecycle.BulkResponse, statusCode: status);
    }
}
