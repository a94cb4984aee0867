using System.Globalization;
using System.Text.Json.Nodes;
using Blnk.Core.Money;
using Blnk.Server.Errors;
using Blnk.Server.Features.Transactions;
using Blnk.Server.Features.Webhooks;
using Blnk.Server.Json;
using Blnk.Server.Writer;
using Blnk.Storage;

namespace Blnk.Server.Features.Bulk;

/// <summary>The answer to a bulk request: a summary, an error, or the dry-run previews.</summary>
public sealed record BulkResult(BulkResponse? Response, ApiError? Error, BulkDryRunResponse? Preview = null);

/// <summary>
/// <c>POST /transactions/bulk</c> (contract §4.5.2): up to 10,000 transactions under one batch id, every
/// item validated before anything runs. The whole request is one writer unit, so it costs a few
/// database round trips however many lines it has; <c>atomic</c> makes it all-or-nothing in one
/// database transaction (decision 5), otherwise it stops at the first refusal and keeps what came before.
/// </summary>
public sealed class BulkService(TransactionService transactions, LedgerWriter writer, ILedgerStore store,
    IdGenerator ids, TimeProvider clock, EventOutbox eventOutbox, ILogger<BulkService> logger)
{
    public const int ItemsMax = 10_000;

    public async Task<BulkResult> ProcessAsync(BulkRequest request, CancellationToken cancellationToken)
    {
        var (items, invalid) = Validate(request);
        if (invalid is not null)
        {
            return new BulkResult(null, invalid);
        }
        var batchId = ids.New(IdGenerator.BulkPrefix);
        if (request.RunAsync && !request.DryRun)
        {
            _ = Task.Run(() => RunInBackgroundAsync(request, items!, batchId), CancellationToken.None);
            return new BulkResult(new BulkResponse
            {
                Message = "Bulk transaction processing started", BatchId = batchId, Status = "processing",
            }, null);
        }
        return await RunAsync(request, items!, batchId, cancellationToken);
    }

    /// <summary>
    /// Prepares and applies a bulk. <c>completionEvents</c> (<c>run_async</c>) are the events that report the
    /// result: when the writer decides the bulk they are recorded in the same database transaction as its rows,
    /// otherwise (refused before the writer) on their own.
    /// </summary>
    private async Task<BulkResult> RunAsync(BulkRequest request, List<ValidTransaction> items,
        string batchId, CancellationToken cancellationToken,
        Func<BulkResult, IReadOnlyList<OutboxEvent>>? completionEvents = null)
    {
        var now = Clock.Now(clock);
        var prepared = new List<PreparedTransaction>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            var (transaction, error) = await transactions.PrepareAsync(items[i], batchId, i + 1, now, cancellationToken);
            if (error is not null)
            {
                return await RecordAsync(new BulkResult(null,
                    Failed(batchId, error with { Message = $"transactions[{i}]: {error.Message}" })), completionEvents);
            }
            prepared.Add(transaction!);
        }
        // Worked out once: inside the writer's transaction for the completion event, and again for the answer.
        BulkResult? decided = null;
        BulkResult Decided(UnitOutcome outcome) => decided ??= ResultOf(request, prepared, batchId, outcome);
        var unit = TransactionService.UnitOf(prepared, items[0], request.Atomic ? batchId : null, now,
            completionEvents is null ? null : outcome => completionEvents(Decided(outcome)));
        if (!writer.TrySubmit(unit))
        {
            return await RecordAsync(new BulkResult(null, Failed(batchId, TransactionService.Backpressure())),
                completionEvents);
        }
        return Decided(await unit.Completion);
    }

    private static BulkResult ResultOf(BulkRequest request, List<PreparedTransaction> prepared, string batchId,
        UnitOutcome outcome)
    {
        if (request.DryRun)
        {
            return new BulkResult(null, null, Previews(request, prepared, outcome));
        }
        if (outcome.CauseIndex is { } refused)
        {
            return new BulkResult(null, Failed(batchId, Explain(request, prepared, outcome, refused)));
        }
        return new BulkResult(new BulkResponse
        {
            BatchId = batchId, Status = request.Inflight ? "inflight" : "applied", TransactionCount = prepared.Count,
        }, null);
    }

    /// <summary>A result decided without the writer: its events, if any, are recorded on their own.</summary>
    private async Task<BulkResult> RecordAsync(BulkResult result,
        Func<BulkResult, IReadOnlyList<OutboxEvent>>? completionEvents)
    {
        if (completionEvents is not null)
        {
            await store.AppendOutboxAsync(completionEvents(result), Clock.Now(clock), CancellationToken.None);
        }
        return result;
    }

    /// <summary>
    /// <c>run_async</c>: the request was answered 202; the outcome is recorded for the webhook outbox as
    /// <c>bulk_transaction.applied</c>, <c>.inflight</c> or <c>.failed</c>.
    /// </summary>
    private async Task RunInBackgroundAsync(BulkRequest request, List<ValidTransaction> items, string batchId)
    {
        IReadOnlyList<OutboxEvent> Completion(BulkResult result) => CompletionEvents(request, batchId, items.Count, result);
        try
        {
            await RunAsync(request, items, batchId, CancellationToken.None, Completion);
        }
        catch (Exception exception)
        {
            // The writer failed the batch and committed nothing of it: the caller, answered 202, still learns so.
            logger.LogError(exception, "Async bulk {BatchId} failed", batchId);
            await RecordFailureAsync(batchId, Completion);
        }
    }

    private async Task RecordFailureAsync(string batchId, Func<BulkResult, IReadOnlyList<OutboxEvent>> completion)
    {
        try
        {
            await RecordAsync(new BulkResult(null, Failed(batchId, ApiError.Internal())), completion);
        }
        catch (Exception exception)
        {
            logger.LogError(exception, "Could not record the failure of async bulk {BatchId}", batchId);
        }
    }

    private IReadOnlyList<OutboxEvent> CompletionEvents(BulkRequest request, string batchId, int count,
        BulkResult result)
    {
        var status = result.Error is not null ? "failed" : request.Inflight ? "inflight" : "applied";
        var payload = new JsonObject
        {
            ["batch_id"] = batchId,
            ["status"] = status,
            ["timestamp"] = Json.BlnkTimeJsonConverter.Format(Clock.Now(clock)),
        };
        if (result.Error is { } error)
        {
            payload["error"] = error.Message;
        }
        else
        {
            payload["transaction_count"] = count;
        }
        return eventOutbox.For($"bulk_transaction.{status}", payload.ToJsonString(), batchId);
    }

    private static (List<ValidTransaction>? Items, ApiError? Error) Validate(BulkRequest request)
    {
        var raw = request.Transactions ?? [];
        if (raw.Count == 0)
        {
            return (null, new ApiError(ErrorCodes.BulkEmpty, "transactions cannot be empty"));
        }
        if (raw.Count > ItemsMax)
        {
            return (null, new ApiError(ErrorCodes.BulkLimitExceeded, $"too many transactions; max is {ItemsMax}"));
        }
        var items = new List<ValidTransaction>(raw.Count);
        for (var i = 0; i < raw.Count; i++)
        {
            if (raw[i] is not { } item)
            {
                return (null, ItemError(i, $"transactions[{i}] is required"));
            }
            item.Inflight = request.Inflight;
            item.SkipQueue = request.SkipQueue;
            item.Atomic = request.Atomic;
            item.DryRun = request.DryRun;
            var (valid, error) = TransactionValidator.Validate(item);
            if (error is not null)
            {
                return (null, ItemError(i, $"transactions[{i}]: {error.Message}") with { Code = error.Code });
            }
            items.Add(valid!);
        }
        return (items, null);
    }

    private static ApiError ItemError(int index, string message) => new(ErrorCodes.TransactionValidation, message,
        new JsonObject { ["index"] = index }, PluralLegacyKey: true);

    private static ApiError Failed(string batchId, ApiError error) =>
        error with { BatchId = batchId, Details = error.Details ?? new JsonObject { ["batch_id"] = batchId } };

    /// <summary>Blnk's text: which transaction failed, why, and what happened to the ones before it.</summary>
    private static ApiError Explain(BulkRequest request, List<PreparedTransaction> prepared, UnitOutcome outcome,
        int refused)
    {
        var rows = prepared.SelectMany((transaction, item) => transaction.Rows.Select(_ => (transaction, item))).ToList();
        var (transaction, index) = rows[refused];
        var cause = TransactionService.ToApiError(outcome.Operations[refused].Rejection!);
        var sent = transaction.Request;
        var amount = Precision.ToAmount(sent.PreciseAmount, sent.Precision).ToString("F2", CultureInfo.InvariantCulture);
        var consequence = request.Atomic
            ? "All transactions in this batch have been rolled back."
            : "Previous transactions were not rolled back.";
        return cause with
        {
            Message = $"failed to queue transaction {index + 1} (Reference: {sent.Reference}, Source: {sent.Source}, " +
                $"Destination: {sent.Destination}, Amount: {amount}): {cause.Message}. {consequence}",
        };
    }

    private static BulkDryRunResponse Previews(BulkRequest request, List<PreparedTransaction> prepared,
        UnitOutcome outcome)
    {
        var results = new List<DryRunPreview>(prepared.Count);
        var operation = 0;
        foreach (var transaction in prepared)
        {
            var own = outcome.Operations.Skip(operation).Take(transaction.Rows.Count).ToList();
            operation += transaction.Rows.Count;
            results.Add(TransactionService.PreviewOf(transaction, outcome with { Operations = own }));
        }
        return new BulkDryRunResponse
        {
            WouldApply = outcome.FirstRejection is null,
            Cumulative = request.SkipQueue,
            Atomic = request.Atomic,
            Results = results,
        };
    }
}
