using System.Globalization;
using Blnk.Server.Errors;
using Blnk.Server.Json;
using Blnk.Storage;

namespace Blnk.Server.Features.History;

/// <summary><c>GET /balances/{id}/at</c> and <c>POST /balances-snapshots</c> (contract §4.3, §6.8).</summary>
public static class BalanceHistoryEndpoints
{
    private const string InvalidTimestampCode = "BAL_INVALID_TIMESTAMP";
    private const string HistoryNotFoundCode = "BAL_HISTORY_NOT_FOUND";
    private const int DefaultBatchSize = 1000;

    public static void MapBalanceHistoryEndpoints(this IEndpointRouteBuilder routes)
    {
        var services = routes.ServiceProvider;
        var snapshots = new BalanceSnapshotRunner(services.GetRequiredService<ILedgerStore>(),
            services.GetRequiredService<TimeProvider>(),
            services.GetRequiredService<ILoggerFactory>().CreateLogger<BalanceSnapshotRunner>(),
            services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping);
        routes.MapGet("/balances/{id}/at", GetAtAsync).WithName("Balances_GetAtTime");
        routes.MapPost("/balances-snapshots", (HttpRequest request) => StartSnapshots(request, snapshots))
            .WithName("Balances_Snapshot");
    }

    private static async Task<IResult> GetAtAsync(string id, HttpRequest request, ILedgerStore store,
        TimeProvider clock, CancellationToken cancellationToken)
    {
        var text = request.Query["timestamp"].ToString();
        var at = Clock.Now(clock);
        if (text.Length > 0 && !Rfc3339.TryParse(text, out at))
        {
            return new ErrorResult(new ApiError(InvalidTimestampCode,
                "invalid timestamp format. Please use ISO 8601 format (e.g., 2024-01-01T15:04:05Z)"));
        }
        var fromSource = request.Query["from_source"].ToString() is "true" or "1";
        var history = await store.GetBalanceAtAsync(id, at, fromSource, cancellationToken);
        if (history is null)
        {
            return new ErrorResult(new ApiError(ErrorCodes.BalanceNotFound, $"Balance '{id}' not found"));
        }
        // Before the balance existed there is nothing to answer, unless a transaction was backdated there.
        if (at < history.BalanceCreatedAt && history.SnapshotTime is null && history.TransactionsCounted == 0)
        {
            return new ErrorResult(new ApiError(HistoryNotFoundCode,
                $"no balance data found for time: {Rfc3339.GoString(at)}"));
        }
        var response = new BalanceAtTimeResponse
        {
            Balance = new HistoricalBalanceWire
            {
                Balance = history.Balance,
                DebitBalance = history.DebitBalance,
                CreditBalance = history.CreditBalance,
                Currency = history.Currency,
                BalanceId = history.BalanceId,
            },
            Timestamp = at,
            FromSource = fromSource,
        };
        return TypedResults.Json(response, Wire.History.BalanceAtTimeResponse);
    }

    private static IResult StartSnapshots(HttpRequest request, BalanceSnapshotRunner snapshots)
    {
        var text = request.Query["batch_size"].ToString();
        var batchSize = DefaultBatchSize;
        if (text.Length > 0 && (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture,
                out batchSize) || batchSize <= 0))
        {
            return new ErrorResult(new ApiError(ErrorCodes.ValidationError, "invalid batch_size value"));
        }
        snapshots.Request(batchSize);
        return TypedResults.Json(new SnapshotStartedResponse
        {
            Message = "Snapshotting in progress. should be completed shortly",
        }, Wire.History.SnapshotStartedResponse);
    }
}
