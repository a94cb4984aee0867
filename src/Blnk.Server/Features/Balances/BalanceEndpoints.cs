using System.Text.Json;
using System.Text.RegularExpressions;
using Blnk.Core;
using Blnk.Core.Balances;
using Blnk.Core.Ledgers;
using Blnk.Server.Errors;
using Blnk.Server.Http;
using Blnk.Server.Features.Webhooks;
using Blnk.Server.Json;
using Blnk.Storage;

namespace Blnk.Server.Features.Balances;

/// <summary><c>/balances</c>: create, get (with <c>include</c>, <c>with_queued</c>), list, by indicator (contract §4.3).</summary>
public static partial class BalanceEndpoints
{
    private static readonly string[] AllocationStrategies = ["FIFO", "LIFO", "PROPORTIONAL"];

    public static void MapBalanceEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/balances", CreateAsync).WithName("Balances_Create");
        routes.MapGet("/balances/{id}", GetAsync).WithName("Balances_Get");
        routes.MapGet("/balances", ListAsync).WithName("Balances_List");
        routes.MapGet("/balances/indicator/{indicator}/currency/{currency}", GetByIndicatorAsync)
            .WithName("Balances_GetByIndicator");
    }

    private static async Task<IResult> CreateAsync(HttpContext context, ILedgerStore store, IdGenerator ids,
        TimeProvider clock, EventOutbox eventOutbox)
    {
        var (request, error) = await RequestBody.ReadAsync(context, Wire.Context.BalanceRequest);
        if (error is not null)
        {
            return new ErrorResult(error with { PluralLegacyKey = true });
        }
        var strategy = string.IsNullOrWhiteSpace(request!.AllocationStrategy)
            ? Balance.DefaultAllocationStrategy
            : request.AllocationStrategy.Trim().ToUpperInvariant();
        var invalid = Validate(request, strategy);
        if (invalid is not null)
        {
            return new ErrorResult(ApiError.Validation(ErrorCodes.BalanceValidation, invalid));
        }
        var balance = new Balance
        {
            BalanceId = ids.New(IdGenerator.BalancePrefix),
            LedgerId = request.LedgerId!,
            Currency = request.Currency!,
            Indicator = string.IsNullOrEmpty(request.Indicator) ? null : request.Indicator,
            IdentityId = string.IsNullOrEmpty(request.IdentityId) ? null : request.IdentityId,
            CreatedAt = Clock.Now(clock),
            MetaDataJson = request.MetaData?.ToJsonString(),
            TrackFundLineage = request.TrackFundLineage,
            AllocationStrategy = strategy,
        };
        var created = eventOutbox.For("balance.created",
            JsonSerializer.Serialize(balance.ToWire(), Wire.Context.BalanceResponse), balance.BalanceId);
        return await store.InsertBalanceAsync(balance, context.RequestAborted, created) switch
        {
            BalanceInsertOutcome.Inserted =>
                TypedResults.Json(balance.ToWire(), Wire.Context.BalanceResponse, statusCode: 201),
            BalanceInsertOutcome.DuplicateIndicator => new ErrorResult(new ApiError(ErrorCodes.Conflict,
                $"Balance already exists for indicator '{balance.Indicator}' and '{balance.Currency}'")),
            BalanceInsertOutcome.UnknownLedgerOrIdentity =>
                new ErrorResult(new ApiError(ErrorCodes.BadRequest, "Invalid ledger ID")),
        };
    }

    private static string? Validate(BalanceRequest request, string strategy)
    {
        var blank = new List<string>();
        if (string.IsNullOrWhiteSpace(request.Currency))
        {
            blank.Add("currency: cannot be blank");
        }
        if (string.IsNullOrWhiteSpace(request.LedgerId))
        {
            blank.Add("ledger_id: cannot be blank");
        }
        if (blank.Count > 0)
        {
            return string.Join("; ", blank) + ".";
        }
        var tooLong = new[] { ("currency", request.Currency), ("identity_id", request.IdentityId),
                ("indicator", request.Indicator), ("ledger_id", request.LedgerId) }
            .Where(field => field.Item2 is { Length: > Limits.IdentifierLengthMax })
            .Select(field => $"{field.Item1}: the length must be no more than {Limits.IdentifierLengthMax}")
            .ToList();
        if (tooLong.Count > 0)
        {
            return string.Join("; ", tooLong) + ".";
        }
        if (request.TrackFundLineage && string.IsNullOrWhiteSpace(request.IdentityId))
        {
            return "identity_id is required when track_fund_lineage is enabled";
        }
        if (!AllocationStrategies.Contains(strategy))
        {
            return "allocation_strategy must be one of: FIFO, LIFO, PROPORTIONAL";
        }
        if (string.IsNullOrEmpty(request.Indicator))
        {
            return null;
        }
        if (request.LedgerId != Ledger.GeneralLedgerId)
        {
            return "indicator is only allowed for General Ledger balances (ledger_id = general_ledger_id)";
        }
        return IndicatorPattern().IsMatch(request.Indicator)
            ? null
            : "indicator must start with '@' and contain no whitespace (e.g. '@cash')";
    }

    private static async Task<IResult> GetAsync(string id, HttpRequest request, ILedgerStore store,
        BalanceReader reader, CancellationToken cancellationToken)
    {
        var balance = await reader.GetAsync(id, cancellationToken);
        if (balance is null)
        {
            return new ErrorResult(new ApiError(ErrorCodes.BalanceNotFound, $"Balance with ID '{id}' not found"));
        }
        var includes = request.Query["include"].SelectMany(value => (value ?? "").Split(',')).ToHashSet();
        var ledger = includes.Contains("ledger") ? await store.GetLedgerAsync(balance.LedgerId, cancellationToken) : null;
        var identity = includes.Contains("identity") && balance.IdentityId is { } identityId
            ? await store.GetIdentityAsync(identityId, cancellationToken)
            : null;
        QueuedAmounts? queued = string.Equals(request.Query["with_queued"], "true", StringComparison.OrdinalIgnoreCase)
            ? await store.GetQueuedAmountsAsync(id, cancellationToken)
            : null;
        return TypedResults.Json(balance.ToWire(queued, ledger, identity), Wire.Context.BalanceResponse);
    }

    private static async Task<IResult> ListAsync(HttpRequest request, ILedgerStore store,
        CancellationToken cancellationToken)
    {
        var (limit, offset, error) = Paging.Strict(request, 10, "invalid limit value", "invalid offset value");
        if (error is not null)
        {
            return new ErrorResult(error);
        }
        var balances = await store.ListBalancesAsync(limit, offset, cancellationToken);
        return TypedResults.Json(balances.Select(balance => balance.ToWire()).ToList(),
            Wire.Context.ListBalanceResponse);
    }

    private static async Task<IResult> GetByIndicatorAsync(string indicator, string currency, ILedgerStore store,
        CancellationToken cancellationToken)
    {
        var balance = await store.GetBalanceByIndicatorAsync(indicator, currency, cancellationToken);
        return balance is null
            ? new ErrorResult(new ApiError(ErrorCodes.BalanceNotFound, $"balance with indicator '{indicator}' not found"))
            : TypedResults.Json(balance.ToWire(), Wire.Context.BalanceResponse);
    }

    [GeneratedRegex(@"^@\S+$")]
    private static partial Regex IndicatorPattern();
}
