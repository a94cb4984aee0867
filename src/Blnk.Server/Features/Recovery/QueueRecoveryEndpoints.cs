using Blnk.Server.Errors;
using Blnk.Server.Json;
using Blnk.Storage;

namespace Blnk.Server.Features.Recovery;

/// <summary>
/// <c>POST /transactions/recover?threshold=…</c> (contract §4.5.7, §6.10). Our queue is the table
/// <c>transaction_queue</c>, and the queue processor already picks up entries whose lease ran out; this
/// cuts the wait short: every due entry of a QUEUED/SCHEDULED transaction older than the threshold becomes
/// claimable now. Applying stays exactly-once: the writer removes an entry in the same database
/// transaction that writes its outcome, so a second claim of it finds nothing to apply.
/// </summary>
public static class QueueRecoveryEndpoints
{
    /// <summary>Blnk's default and minimum: younger transactions may simply still be on their way.</summary>
    private const long MinimumThresholdNanoseconds = 2 * 60 * 1_000_000_000L;

    public static void MapQueueRecoveryEndpoints(this IEndpointRouteBuilder routes) =>
        routes.MapPost("/transactions/recover", RecoverAsync).WithName("Transactions_Recover");

    private static async Task<IResult> RecoverAsync(HttpRequest request, ILedgerStore store, TimeProvider clock,
        CancellationToken cancellationToken)
    {
        var text = request.Query["threshold"].ToString();
        var threshold = MinimumThresholdNanoseconds;
        if (text.Length > 0 && !GoDuration.TryParse(text, out threshold, out var reason))
        {
            return new ErrorResult(new ApiError(ErrorCodes.ValidationError, $"invalid threshold duration: {reason}"));
        }
        threshold = Math.Max(threshold, MinimumThresholdNanoseconds);
        var now = Clock.Now(clock);
        var age = TimeSpan.FromTicks(threshold / TimeSpan.NanosecondsPerTick);
        // A threshold reaching back before year 1 (Go allows 2562047h) means "created at any time".
        var createdBefore = age.Ticks >= now.Ticks
            ? DateTime.SpecifyKind(DateTime.MinValue, DateTimeKind.Utc)
            : now - age;
        var recovered = await store.ReleaseStaleQueueEntriesAsync(now, createdBefore, cancellationToken);
        return TypedResults.Json(new QueueRecoveryResponse
        {
            Recovered = recovered,
            Threshold = GoDuration.Format(threshold),
        }, Wire.History.QueueRecoveryResponse);
    }
}
