using Blnk.Server.Json;
using Blnk.Storage;

namespace Blnk.Server.Features;

/// <summary><c>GET /</c> and <c>GET /health</c> (contract §4.1, decision 14); both open without a key.</summary>
public static class SystemEndpoints
{
    private static readonly TimeSpan HealthTimeout = TimeSpan.FromSeconds(3);

    public static void MapSystemEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/", () => TypedResults.Json("server running...", Wire.Context.String))
            .WithName("System_Root");
        routes.MapGet("/health", HealthAsync).WithName("System_Health");
    }

    private static async Task<IResult> HealthAsync(ILedgerStore store, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(HealthTimeout);
        bool up;
        try
        {
            up = await store.PingAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            up = false;
        }
        return up
            ? TypedResults.Json(new HealthResponse { Status = "UP" }, Wire.Context.HealthResponse)
            : TypedResults.Json(new HealthResponse { Status = "DOWN", Reason = "database unreachable" },
                Wire.Context.HealthResponse, statusCode: 503);
    }
}
