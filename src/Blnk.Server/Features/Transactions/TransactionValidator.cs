using System.Globalization;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Blnk.Core;
using Blnk.Core.Money;
using Blnk.Core.Transactions;
using Blnk.Server.Http;
using Blnk.Server.Errors;
using Blnk.Server.Json;

namespace Blnk.Server.Features.Transactions;

/// <summary>A create request that passed validation: amounts in minor units, dates parsed, ids as sent.</summary>
public sealed record ValidTransaction(
    BigInteger PreciseAmount,
    BigInteger Precision,
    string AmountText,
    string Currency,
    string Reference,
    string Description,
    string Source,
    string Destination,
    bool AllowOverdraft,
    double OverdraftLimit,
    bool Inflight,
    bool SkipQueue,
    bool Atomic,
    DateTime? EffectiveDate,
    DateTime? ScheduledFor,
    DateTime? InflightExpiryDate,
    DateTime? InflightCommitDate,
    JsonObject? MetaData,
    bool DryRun = false,
    IReadOnlyList<DistributionItem>? Sources = null,
    IReadOnlyList<DistributionItem>? Destinations = null)
{
    public bool IsSplit => Sources is not null || Destinations is not null;

    /// <summary>The split items as the caller sent them, echoed in the answer.</summary>
    public JsonElement? SourcesJson { get; init; }

    public JsonElement? DestinationsJson { get; init; }
}

/// <summary>
/// Checks a <c>POST /transactions</c> body as Blnk does (contract §4.5.1, §6.1) and reports every
/// problem at once in Blnk's format: <c>"key: message; key: message."</c>, keys sorted.
/// </summary>
public static class TransactionValidator
{
    private const string DateFormatMessage =
        "please format the scheduled date as 'YYYY-MM-DDTHH:MM:SS+00:00' (e.g., 2024-04-22T15:28:03+00:00)";

    private static readonly string[] TimeFormats =
        ["yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK"];

    public static (ValidTransaction? Value, ApiError? Error) Validate(TransactionRequest request)
    {
        if (!Precision.TryNormalize(request.Precision, out var precision) && request.Precision >= 0)
        {
            return (null, new ApiError(ErrorCodes.PrecisionNotInteger, "precision must be an integer value"));
        }
        var errors = new SortedDictionary<string, string>(StringComparer.Ordinal);
        CheckAmount(request, errors);
        CheckRouting(request, errors, out var sources, out var destinations);
        FieldErrors.Require(errors, "currency", request.Currency, Limits.IdentifierLengthMax);
        FieldErrors.Require(errors, "reference", request.Reference, Limits.ReferenceLengthMax);
        FieldErrors.Require(errors, "description", request.Description, int.MaxValue);
        if (request.Precision < 0)
        {
            errors["precision"] = "precision cannot be negative";
        }
        if (request.OverdraftLimit < 0 || !double.IsFinite(request.OverdraftLimit))
        {
            errors["overdraft_limit"] = "overdraft_limit cannot be negative";
        }
        var effectiveDate = ParseTime(errors, "effective_date", request.EffectiveDate,
            "effective_date must be an RFC 3339 time (e.g., 2024-04-22T15:28:03Z)");
        var scheduledFor = ParseTime(errors, "scheduled_for", request.ScheduledFor, DateFormatMessage);
        var expiry = ParseTime(errors, "inflight_expiry_date", request.InflightExpiryDate, DateFormatMessage);
        var commit = ParseTime(errors, "inflight_commit_date", request.InflightCommitDate, DateFormatMessage);
        if (errors.Count > 0)
        {
            return (null, ApiError.Validation(ErrorCodes.TransactionValidation, FieldErrors.Message(errors)));
        }
        var preciseAmount = request.PreciseAmount ?? Precision.ToPreciseAmount(request.Amount!.Value, precision);
        if (preciseAmount.Sign <= 0)
        {
            return (null, new ApiError(ErrorCodes.InvalidAmount, "transaction amount must be positive"));
        }
        if (preciseAmount >= Limits.PreciseAmountExclusiveMax)
        {
            return (null, ApiError.Validation(ErrorCodes.TransactionValidation,
                $"precise_amount: must have at most {Limits.PreciseAmountDigitsMax} digits."));
        }
        var amountText = Precision.FormatShortest(
            request.Amount ?? Precision.ToAmount(preciseAmount, precision));
        return (new ValidTransaction(preciseAmount, precision, amountText, request.Currency!, request.Reference!,
            request.Description!, request.Source ?? "", request.Destination ?? "", request.AllowOverdraft,
            request.OverdraftLimit, request.Inflight, request.SkipQueue, request.Atomic, effectiveDate, scheduledFor,
            expiry, commit, request.MetaData, request.DryRun, sources, destinations)
        {
            SourcesJson = request.Sources?.Clone(),
            DestinationsJson = request.Destinations?.Clone(),
        }, null);
    }

    private static void CheckAmount(TransactionRequest request, SortedDictionary<string, string> errors)
    {
        if (request.Amount is not null && request.PreciseAmount is not null)
        {
            errors["amount"] = "either amount or precise_amount should be provided, not both";
        }
        else if (request.Amount is null && request.PreciseAmount is null)
        {
            errors["amount"] = "either amount or precise_amount is required";
        }
        else if (request.Amount is { } amount)
        {
            if (!double.IsFinite(amount))
            {
                errors["amount"] = "amount must be a finite number";
            }
            else if (amount < 0)
            {
                errors["amount"] = "amount cannot be negative";
            }
            else if (Precision.ShortestDecimal(amount).SignificantDigits() > Precision.AmountSignificantDigitsMax)
            {
                errors["amount"] = "amount has more than 15 significant digits which may cause rounding errors; " +
                    "use precise_amount instead";
            }
        }
        else if (request.PreciseAmount!.Value.Sign < 0)
        {
            errors["precise_amount"] = "precise_amount cannot be negative";
        }
    }

    private static void CheckRouting(TransactionRequest request, SortedDictionary<string, string> errors,
        out IReadOnlyList<DistributionItem>? sources, out IReadOnlyList<DistributionItem>? destinations)
    {
        sources = ParseItems(request.Sources, "sources", errors);
        destinations = ParseItems(request.Destinations, "destinations", errors);
        CheckSide(errors, "source", request.Source, request.Sources is not null);
        CheckSide(errors, "destination", request.Destination, request.Destinations is not null);
        if (request.Sources is not null && request.Destinations is not null)
        {
            errors["sources"] = "only one side may be split: use sources with one destination, or destinations with one source";
        }
        if ((!string.IsNullOrWhiteSpace(request.Source) && request.Source == request.Destination)
            || SplitNamesTheSingleSide(request, sources, destinations))
        {
            errors["source"] = "source and destination cannot be the same balance";
        }
    }

    /// <summary>Whether an item of a split names the request's single source or destination.</summary>
    private static bool SplitNamesTheSingleSide(TransactionRequest request,
        IReadOnlyList<DistributionItem>? sources, IReadOnlyList<DistributionItem>? destinations) =>
        (sources ?? []).Concat(destinations ?? [])
            .Any(item => item.Identifier == request.Source || item.Identifier == request.Destination);

    private static void CheckSide(SortedDictionary<string, string> errors, string key, string? single, bool split)
    {
        if (split && !string.IsNullOrEmpty(single))
        {
            errors[key] = $"either {key} or {key}s is required, not both";
        }
        else if (!split && string.IsNullOrWhiteSpace(single))
        {
            errors[key] = $"either {key} or {key}s is required";
        }
        else if (single is { Length: > Limits.IdentifierLengthMax })
        {
            errors[key] = $"the length must be no more than {Limits.IdentifierLengthMax}";
        }
    }

    /// <summary>Split items: <c>{"identifier", "distribution", "precise_distribution"}</c>, numbers taken as their text.</summary>
    private static List<DistributionItem>? ParseItems(JsonElement? array, string key,
        SortedDictionary<string, string> errors)
    {
        if (array is not { } element)
        {
            return null;
        }
        if (element.ValueKind != JsonValueKind.Array || element.GetArrayLength() == 0)
        {
            errors[key] = "must be a non-empty list of {identifier, distribution} items";
            return null;
        }
        var items = new List<DistributionItem>();
        foreach (var item in element.EnumerateArray())
        {
            var identifier = item.ValueKind == JsonValueKind.Object ? Text(item, "identifier") : null;
            if (string.IsNullOrWhiteSpace(identifier) || identifier.Length > Limits.IdentifierLengthMax)
            {
                errors[key] = $"every item needs an identifier of at most {Limits.IdentifierLengthMax} characters";
                return null;
            }
            items.Add(new DistributionItem(identifier, Text(item, "distribution"), Text(item, "precise_distribution")));
        }
        return items;
    }

    private static string? Text(JsonElement item, string property) =>
        item.TryGetProperty(property, out var value) ? value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Number => value.GetRawText(),
            _ => null,
        } : null;

    private static DateTime? ParseTime(SortedDictionary<string, string> errors, string key, string? text,
        string message)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }
        if (!DateTimeOffset.TryParseExact(text, TimeFormats, CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal, out var value))
        {
            errors[key] = message;
            return null;
        }
        var utc = value.UtcDateTime;
        return new DateTime(utc.Ticks - utc.Ticks % 10, DateTimeKind.Utc);
    }
}
