using System.Globalization;
using System.Numerics;
using System.Text.Json.Nodes;
using Blnk.Core.Balances;
using Blnk.Core.Money;
using Blnk.Core.Transactions;
using Blnk.Server.Errors;
using Blnk.Server.Features.Balances;
using Blnk.Server.Json;
using Blnk.Server.Writer;
using Blnk.Storage;

namespace Blnk.Server.Features.Transactions;

/// <summary>
/// A create request turned into the rows it will write: one row, or one leg per split item (request
/// order). <see cref="TransactionId"/> is the row's id, or the split's parent id (not itself stored).
/// </summary>
public sealed record PreparedTransaction(string TransactionId, ValidTransaction Request,
    IReadOnlyList<TransactionRecord> Rows, IReadOnlyList<Balance> VirtualBalances);

/// <summary>The answer to a create: the wire response, an error, or a dry-run preview.</summary>
public sealed record CreateResult(TransactionResponse? Response, ApiError? Error, DryRunPreview? Preview = null);

/// <summary>
/// <c>POST /transactions</c>: resolve <c>@indicator</c> balances, split into legs when asked, then hand
/// the rows to the batching writer — applied at once with <c>skip_queue</c>, otherwise stored as QUEUED
/// and applied by the queue processor (contract §6.2, §6.6, decisions 3, 5 and 6).
/// </summary>
public sealed class TransactionService(ILedgerStore store, LedgerWriter writer, IdGenerator ids,
    IndicatorBalances indicatorBalances, TimeProvider clock)
{
    public const string QueuedParentKey = "QUEUED_PARENT_TRANSACTION";

    private readonly ILedgerStore _store = store;
    private readonly IdGenerator _ids = ids;
    private readonly IndicatorBalances _indicatorBalances = indicatorBalances;

    public async Task<CreateResult> CreateAsync(ValidTransaction request, CancellationToken cancellationToken)
    {
        var now = Clock.Now(clock);
        var (prepared, error) = await PrepareAsync(request, null, null, now, cancellationToken);
        if (error is not null)
        {
            return new CreateResult(null, error);
        }
        var unit = UnitOf([prepared!], request, null, now);
        if (!writer.TrySubmit(unit))
        {
            return new CreateResult(null, Backpressure());
        }
        var outcome = await unit.Completion;
        if (request.DryRun)
        {
            return new CreateResult(null, null, PreviewOf(prepared!, outcome));
        }
        return outcome.CauseIndex is { } refused
            ? new CreateResult(null, ToApiError(outcome.Operations[refused].Rejection!))
            : new CreateResult(ResponseOf(prepared!, outcome), null);
    }

    /// <summary>
    /// Resolves balances and builds the rows. <paramref name="batchId"/> (bulk) becomes every row's parent and
    /// queued parent, with <paramref name="sequence"/> recorded in meta_data as Blnk does.
    /// </summary>
    public async Task<(PreparedTransaction? Prepared, ApiError? Error)> PrepareAsync(ValidTransaction request,
        string? batchId, int? sequence, DateTime now, CancellationToken cancellationToken)
    {
        var resolver = new Resolver(this, request.Currency, request.DryRun, now);
        var transactionId = _ids.New(IdGenerator.TransactionPrefix);
        var metaData = MetaDataOf(request, batchId ?? transactionId, sequence);
        List<TransactionRecord> rows;
        if (!request.IsSplit)
        {
            var source = await resolver.ResolveAsync(request.Source, cancellationToken);
            var destination = await resolver.ResolveAsync(request.Destination, cancellationToken);
            rows = [Row(request, transactionId, batchId ?? "", source, destination, request.Reference,
                request.PreciseAmount, request.AmountText, metaData, now)];
        }
        else
        {
            var (legs, invalid) = Distribution.Split(request.PreciseAmount, request.Precision,
                request.Sources ?? request.Destinations!);
            if (invalid is not null)
            {
                return (null, new ApiError(ErrorCodes.InvalidDistribution, invalid));
            }
            rows = await LegsAsync(request, transactionId, batchId, legs!, resolver, metaData, now, cancellationToken);
        }
        if (rows.Any(row => row.Source == row.Destination))
        {
            return (null, ApiError.Validation(ErrorCodes.TransactionValidation,
                "source: source and destination cannot be the same balance."));
        }
        return (new PreparedTransaction(transactionId, request, rows, resolver.VirtualBalances), null);
    }

    /// <summary>The writer unit for prepared transactions: atomic when asked, else up to the first refusal.</summary>
    public static WriteUnit UnitOf(IReadOnlyList<PreparedTransaction> prepared, ValidTransaction shape,
        string? groupId, DateTime now, Func<UnitOutcome, IReadOnlyList<OutboxEvent>>? outcomeEvents = null)
    {
        // A dry run always decides as if applying now, so a queued request's preview still checks funds.
        var mode = shape.SkipQueue || shape.DryRun ? PostMode.ApplyNow : PostMode.Enqueue;
        var rows = prepared.SelectMany(transaction => transaction.Rows).ToList();
        var atomicSplit = groupId is null && shape.Atomic && prepared.Count == 1 && shape.IsSplit;
        return new WriteUnit
        {
            Operations = [.. rows.Select(row => new PostTransaction(row, mode))],
            Policy = shape.Atomic ? UnitPolicy.Atomic : UnitPolicy.StopAtFirstRefusal,
            AvailableAt = now,
            QueueGroupId = shape.SkipQueue || !shape.Atomic ? null : groupId ?? (atomicSplit ? prepared[0].TransactionId : null),
            DryRun = shape.DryRun,
            VirtualBalances = [.. prepared.SelectMany(transaction => transaction.VirtualBalances)],
            OutcomeEvents = outcomeEvents,
        };
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

    /// <summary>Blnk's answer for a split is its (unstored) parent, with the legs' totals and the items as sent.</summary>
    public static TransactionResponse ResponseOf(PreparedTransaction prepared, UnitOutcome outcome)
    {
        var request = prepared.Request;
        var first = outcome.Operations.First(operation => operation.Row is not null).Row!;
        if (!request.IsSplit)
        {
            // The queued answer echoes source and destination as sent, as Blnk's does.
            return (request.SkipQueue ? first : first with { Source = request.Source, Destination = request.Destination })
                .ToWire();
        }
        var parent = first with
        {
            TransactionId = prepared.TransactionId,
            ParentTransaction = "",
            Source = request.Source,
            Destination = request.Destination,
            Reference = request.Reference,
            PreciseAmount = request.PreciseAmount,
            Hash = TransactionHash.Compute(request.AmountText, request.Reference, request.Currency, request.Source,
                request.Destination),
        };
        return parent.ToWire() with { Sources = request.SourcesJson, Destinations = request.DestinationsJson };
    }

    private async Task<List<TransactionRecord>> LegsAsync(ValidTransaction request, string parentId, string? batchId,
        IReadOnlyList<DistributionLeg> legs, Resolver resolver, JsonObject? metaData, DateTime now,
        CancellationToken cancellationToken)
    {
        var single = await resolver.ResolveAsync(request.Sources is null ? request.Source : request.Destination,
            cancellationToken);
        var rows = new List<TransactionRecord>();
        var separator = request.SkipQueue ? "-" : "_";
        foreach (var (leg, number) in legs.Select((leg, index) => (leg, index + 1)).Where(pair => pair.leg.PreciseAmount > 0))
        {
            var other = await resolver.ResolveAsync(leg.Identifier, cancellationToken);
            var (source, destination) = request.Sources is null ? (single, other) : (other, single);
            var reference = $"{request.Reference}{separator}{number.ToString(CultureInfo.InvariantCulture)}";
            var amountText = Precision.FormatShortest(Precision.ToAmount(leg.PreciseAmount, request.Precision));
            rows.Add(Row(request, _ids.New(IdGenerator.TransactionPrefix), batchId ?? parentId, source, destination,
                reference, leg.PreciseAmount, amountText, metaData, now, request.Sources is null
                    ? (request.Source, leg.Identifier)
                    : (leg.Identifier, request.Destination)));
        }
        return rows;
    }

    private static TransactionRecord Row(ValidTransaction request, string transactionId, string parent, string source,
        string destination, string reference, BigInteger preciseAmount, string amountText, JsonObject? metaData,
        DateTime now, (string Source, string Destination)? sentIdentifiers = null)
    {
        var (sentSource, sentDestination) = sentIdentifiers ?? (request.Source, request.Destination);
        return new TransactionRecord
        {
            TransactionId = transactionId,
            ParentTransaction = parent,
            Source = source,
            Destination = destination,
            Reference = reference,
            Currency = request.Currency,
            Description = request.Description,
            Status = request.SkipQueue ? TransactionStatus.Applied
                : request.ScheduledFor is null ? TransactionStatus.Queued : TransactionStatus.Scheduled,
            Hash = TransactionHash.Compute(amountText, reference, request.Currency, sentSource, sentDestination),
            PreciseAmount = preciseAmount,
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
            MetaDataJson = metaData is { Count: > 0 } ? metaData.ToJsonString() : null,
        };
    }

    private static JsonObject? MetaDataOf(ValidTransaction request, string queuedParent, int? sequence)
    {
        var metaData = request.MetaData?.DeepClone().AsObject();
        if (sequence is { } number)
        {
            metaData ??= [];
            metaData["sequence"] = number;
        }
        if (request.SkipQueue)
        {
            return metaData;
        }
        metaData ??= [];
        metaData[QueuedParentKey] = queuedParent;
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

    public static DryRunPreview PreviewOf(PreparedTransaction prepared, UnitOutcome outcome)
    {
        var request = prepared.Request;
        var roles = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var row in prepared.Rows)
        {
            roles.TryAdd(row.Source, "source");
            roles.TryAdd(row.Destination, "destination");
        }
        var legs = request.IsSplit
            ? prepared.Rows.Select(row => new LegPreview
            {
                Identifier = request.Sources is null ? row.Destination : row.Source,
                Role = request.Sources is null ? "destination" : "source",
                PreciseAmount = row.PreciseAmount.ToString(CultureInfo.InvariantCulture),
                Amount = Precision.ToAmount(row.PreciseAmount, row.Precision),
            }).ToList()
            : null;
        var shape = prepared.Rows[0] with { Reference = request.Reference, PreciseAmount = request.PreciseAmount };
        return DryRunPreviews.From(outcome, shape, roles, legs: legs,
            virtualBalanceIds: [.. prepared.VirtualBalances.Select(balance => balance.BalanceId)],
            status: request.SkipQueue ? null : prepared.Rows[0].Status);
    }

    /// <summary>
    /// Turns identifiers into balance ids. An <c>@indicator</c> is created in the General Ledger on first
    /// use — except in a dry run, which must write nothing: there a missing one becomes a virtual balance.
    /// </summary>
    private sealed class Resolver(TransactionService service, string currency, bool dryRun, DateTime now)
    {
        public List<Balance> VirtualBalances { get; } = [];

        public async Task<string> ResolveAsync(string identifier, CancellationToken cancellationToken)
        {
            if (!identifier.StartsWith('@'))
            {
                return identifier;
            }
            if (!dryRun)
            {
                return await service._indicatorBalances.EnsureAsync(identifier, currency, now, cancellationToken);
            }
            return service._indicatorBalances.Known(identifier, currency)
                ?? await ResolveWithoutWritingAsync(identifier, cancellationToken);
        }

        private async Task<string> ResolveWithoutWritingAsync(string identifier, CancellationToken cancellationToken)
        {
            var existing = await service._store.GetBalanceByIndicatorAsync(identifier, currency, cancellationToken);
            if (existing is not null)
            {
                return existing.BalanceId;
            }
            var known = VirtualBalances.FirstOrDefault(balance => balance.Indicator == identifier);
            if (known is not null)
            {
                return known.BalanceId;
            }
            var created = DryRunPreviews.VirtualIndicatorBalance(service._ids.New(IdGenerator.BalancePrefix),
                identifier, currency, now);
            VirtualBalances.Add(created);
            return created.BalanceId;
        }
    }
}
