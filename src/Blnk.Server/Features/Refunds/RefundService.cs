using System.Text.Json.Nodes;
using Blnk.Core.Money;
using Blnk.Core.Transactions;
using Blnk.Server.Errors;
using Blnk.Server.Features.Inflight;
using Blnk.Server.Features.Transactions;
using Blnk.Server.Json;
using Blnk.Server.Writer;
using Blnk.Storage;

namespace Blnk.Server.Features.Refunds;

/// <summary>The answer to a refund: the first refund row, an error, or a preview.</summary>
public sealed record RefundResult(TransactionRecord? Row, ApiError? Error, DryRunPreview? Preview = null);

/// <summary>
/// <c>POST /refund-transaction/{id}</c> (contract §4.5.4): every APPLIED or VOID row under the id is
/// reversed by a new transaction with source and destination swapped. A refund's reference is
/// <c>&lt;refunded row id&gt;_refund</c>, so the unique reference index makes "once per transaction" hold
/// even when two requests race: the second finds the reference taken and gets 409.
/// </summary>
public sealed class RefundService(ILedgerStore store, FamilyReader families, LedgerWriter writer, IdGenerator ids,
    TimeProvider clock)
{
    private const string RefundSuffix = "_refund";
    private static readonly string[] RefundableStatuses = [TransactionStatus.Applied, TransactionStatus.Void];

    public async Task<RefundResult> RefundAsync(string transactionId, RefundRequest request,
        CancellationToken cancellationToken)
    {
        var refundable = (await families.FindAsync(transactionId, RefundableStatuses, cancellationToken))
            .Where(row => row.Reference != row.ParentTransaction + RefundSuffix).ToList();
        if (refundable.Count == 0)
        {
            return new RefundResult(null, await NothingRefundableAsync(transactionId, cancellationToken));
        }
        var now = Clock.Now(clock);
        var refunds = refundable.Select(row => RefundOf(row, request, now)).ToList();
        var unit = new WriteUnit
        {
            Operations = [.. refunds.Select(refund =>
                new PostTransaction(refund, request.SkipQueue || request.DryRun ? PostMode.ApplyNow : PostMode.Enqueue))],
            AvailableAt = now,
            DryRun = request.DryRun,
        };
        if (!writer.TrySubmit(unit))
        {
            return new RefundResult(null, TransactionService.Backpressure());
        }
        var outcome = await unit.Completion;
        if (request.DryRun)
        {
            var roles = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                [refunds[0].Source] = "source",
                [refunds[0].Destination] = "destination",
            };
            return new RefundResult(null, null, DryRunPreviews.From(outcome, refunds[0], roles,
                status: request.SkipQueue ? null : TransactionStatus.Queued));
        }
        return outcome.FirstRejection is { } refusal
            ? new RefundResult(null, ToApiError(refusal, refundable[Math.Max(0, outcome.FirstRejectedIndex)]))
            : new RefundResult(outcome.Operations[0].Row, null);
    }

    private async Task<ApiError> NothingRefundableAsync(string transactionId, CancellationToken cancellationToken)
    {
        var row = await store.GetTransactionAsync(transactionId, cancellationToken);
        return row is null
            ? new ApiError(ErrorCodes.TransactionNotFound, "no transaction to refund")
            : new ApiError(ErrorCodes.TransactionValidation,
                $"transaction {transactionId} cannot be refunded in status {row.Status} (only APPLIED or VOID)");
    }

    /// <summary>A VOID row is refunded as a new hold the other way, as Blnk does (it re-opens a voided hold).</summary>
    private TransactionRecord RefundOf(TransactionRecord row, RefundRequest request, DateTime now)
    {
        var reference = row.TransactionId + RefundSuffix;
        var transactionId = ids.New(IdGenerator.TransactionPrefix);
        var metaData = row.MetaDataJson is null ? [] : JsonNode.Parse(row.MetaDataJson)!.AsObject();
        metaData.Remove("blnk_rejection_reason");
        foreach (var (key, value) in request.MetaData ?? [])
        {
            metaData[key] = value?.DeepClone();
        }
        if (!request.SkipQueue)
        {
            metaData["QUEUED_PARENT_TRANSACTION"] = transactionId;
        }
        return row with
        {
            TransactionId = transactionId,
            ParentTransaction = row.TransactionId,
            Source = row.Destination,
            Destination = row.Source,
            Reference = reference,
            Description = request.Description ?? row.Description,
            Status = request.SkipQueue ? TransactionStatus.Applied : TransactionStatus.Queued,
            Hash = TransactionHash.Compute(Precision.FormatShortest(Precision.ToAmount(row.PreciseAmount, row.Precision)),
                reference, row.Currency, row.Destination, row.Source),
            AllowOverdraft = true,
            OverdraftLimit = 0,
            Inflight = row.Status == TransactionStatus.Void,
            SkipQueue = request.SkipQueue,
            Atomic = false,
            CreatedAt = now,
            EffectiveDate = now,
            ScheduledFor = null,
            InflightExpiryDate = null,
            InflightCommitDate = null,
            MetaDataJson = metaData.Count > 0 ? metaData.ToJsonString() : null,
        };
    }

    private static ApiError ToApiError(Rejection refusal, TransactionRecord refunded)
    {
        var error = refusal.Code == RejectionCode.DuplicateReference
            ? new ApiError(ErrorCodes.Conflict, $"transaction {refunded.TransactionId} has already been refunded")
            : TransactionService.ToApiError(refusal);
        return error with { Message = $"error occurred during processing: [{error.Message}]" };
    }
}
