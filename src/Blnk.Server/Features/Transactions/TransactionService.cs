using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Blnk.Core.Transactions;
using Blnk.Server.Errors;
using Blnk.Server.Writer;
using Blnk.Storage;

namespace Blnk.Server.Features.Transactions;

/// <summary>
/// <c>POST /transactions</c>: validate, resolve <c>@indicator</c> balances, then hand the row to the
/// batching writer — applied at once with <c>skip_queue</c>, otherwise stored as QUEUED and applied
/// by the queue processor (contract §6.2, decision 3).
/// </summary>
public sealed class TransactionService(ILedgerStore store, LedgerWriter writer, IdGenerator ids, TimeProvider clock)
{
    private const string QueuedParentKey = "QUEUED_PARENT_TRANSACTION";

    /// <summary>(indicator, currency) → balance id. The mapping never changes once created, so caching is safe.</summary>
    private readonly ConcurrentDictionary<(string Indicator, string Currency), string> _indicatorBalances = new();

    public async Task<(TransactionRecord? Row, ApiError? Error)> CreateAsync(ValidTransaction request,
        CancellationToken cancellationToken)
    {
        var now = Clock.Now(clock);
        var source = await ResolveAsync(request.Source, request.Currency, now, cancellationToken);
        var destination = await ResolveAsync(request.Destination, request.Currency, now, cancellationToken);
        if (source == destination)
        {
            return (null, ApiError.Validation(ErrorCodes.TransactionValidation,
                "source: source and destination cannot be the same balance."));
        }
        var transactionId = ids.New(IdGenerator.TransactionPrefix);
        var row = new TransactionRecord
        {
            TransactionId = transactionId,
            Source = source,
            Destination = destination,
            Reference = request.Reference,
            Currency = request.Currency,
            Description = request.Description,
            Status = request.SkipQueue ? TransactionStatus.Applied
                : request.ScheduledFor is null ? TransactionStatus.Queued : TransactionStatus.Scheduled,
            Hash = TransactionHash.Compute(request.AmountText, request.Reference, request.Currency, request.Source,
                request.Destination),
            PreciseAmount = request.PreciseAmount,
            Precision = request.Precision,
            OverdraftLimit = request.OverdraftLimit,
            AllowOverdraft = request.AllowOverdraft,
            Inflight = request.Inflight,
            SkipQueue = request.SkipQueue,
            Atomic = request.Atomic,
            CreatedAt = now,
            EffectiveDate = request.EffectiveDate ?? now,
            ScheduledFor = request.ScheduledFor,
            InflightExpiryDate = request.InflightExpiryDate,
            InflightCommitDate = request.InflightCommitDate,
            MetaDataJson = MetaDataOf(request, transactionId)?.ToJsonString(),
        };
        var unit = WriteUnit.Single(new PostTransaction(row, request.SkipQueue ? PostMode.ApplyNow : PostMode.Enqueue),
            request.ScheduledFor is { } due && due > now ? due : now);
        if (!writer.TrySubmit(unit))
        {
            return (null, Backpressure());
        }
        var outcome = (await unit.Completion).Operations[0];
        if (outcome.Rejection is { } rejection)
        {
            return (null, ToApiError(rejection));
        }
        var written = outcome.Row!;
        // The queued answer echoes source and destination as sent, as Blnk's does.
        return (request.SkipQueue ? written : written with { Source = request.Source, Destination = request.Destination },
            null);
    }

    public static ApiError Backpressure() => new(ErrorCodes.QueueBackpressure,
        "queue backpressure: the transaction writer is at capacity; retry shortly");

    /// <summary>The one table from a refusal to the wire: every code mapped, no default arm.</summary>
    public static ApiError ToApiError(Rejection rejection) => rejection.Code switch
    {
        RejectionCode.BalanceNotFound => new ApiError(ErrorCodes.TransactionNotFound, rejection.Message),
        RejectionCode.CurrencyMismatch => new ApiError(ErrorCodes.TransactionValidation, rejection.Message),
        RejectionCode.DuplicateReference => new ApiError(ErrorCodes.DuplicateReference, rejection.Message),
        RejectionCode.InvalidAmount => new ApiError(ErrorCodes.InvalidAmount, rejection.Message),
        RejectionCode.InsufficientFunds or RejectionCode.ExceedsOverdraftLimit => new ApiError(
            ErrorCodes.InsufficientFunds, $"failed to apply transaction to balances: {rejection.Message}"),
        RejectionCode.NotInflight => new ApiError(ErrorCodes.NotInflight, rejection.Message),
        RejectionCode.AlreadyVoided => new ApiError(ErrorCodes.AlreadyVoided, rejection.Message),
        RejectionCode.AlreadyCommitted => new ApiError(ErrorCodes.AlreadyCommitted, rejection.Message),
        RejectionCode.CommitAmountExceeded => new ApiError(ErrorCodes.CommitAmountExceeded, rejection.Message),
        RejectionCode.AtomicGroupRefused => new ApiError(ErrorCodes.TransactionValidation, rejection.Message),
    };

    private async Task<string> ResolveAsync(string identifier, string currency, DateTime now,
        CancellationToken cancellationToken)
    {
        if (!identifier.StartsWith('@'))
        {
            return identifier;
        }
        if (_indicatorBalances.TryGetValue((identifier, currency), out var cached))
        {
            return cached;
        }
        var balanceId = await store.EnsureIndicatorBalanceAsync(identifier, currency,
            ids.New(IdGenerator.BalancePrefix), now, cancellationToken);
        _indicatorBalances[(identifier, currency)] = balanceId;
        return balanceId;
    }

    private static JsonObject? MetaDataOf(ValidTransaction request, string transactionId)
    {
        if (request.SkipQueue)
        {
            return request.MetaData;
        }
        var metaData = request.MetaData?.DeepClone().AsObject() ?? [];
        metaData[QueuedParentKey] = transactionId;
        if (request.AllowOverdraft)
        {
            metaData["allow_overdraft"] = true;
        }
        if (request.Atomic)
        {
            metaData["atomic"] = true;
        }
        return metaData;
    }
}
