using System.Globalization;
using System.Numerics;
using System.Text.Json.Nodes;
using Blnk.Core;
using Blnk.Core.Money;
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
    JsonObject? MetaData);

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
        CheckRouting(request, errors);
        Require(errors, "currency", request.Currency, Limits.IdentifierLengthMax);
        Require(errors, "reference", request.Reference, Limits.ReferenceLengthMax);
        Require(errors, "description", request.Description, int.MaxValue);
        if (request.Precision < 0)
        {
            errors["precision"] = "precision cannot be negative";
        }
        if (request.OverdraftLimit < 0 || !double.IsFinite(request.OverdraftLimit))
        {
            errors["overdraft_limit"] = "overdraft_limit cannot be negative";
        }
        if (request.DryRun)
        {
            errors["dry_run"] = "dry-run previews are not available on this server yet; send the request without dry_run";
        }
        var effectiveDate = ParseTime(errors, "effective_date", request.EffectiveDate,
            "effective_date must be an RFC 3339 time (e.g., 2024-04-22T15:28:03Z)");
        var scheduledFor = ParseTime(errors, "scheduled_for", request.ScheduledFor, DateFormatMessage);
        var expiry = ParseTime(errors, "inflight_expiry_date", request.InflightExpiryDate, DateFormatMessage);
        var commit = ParseTime(errors, "inflight_commit_date", request.InflightCommitDate, DateFormatMessage);
        if (errors.Count > 0)
        {
            var message = string.Join("; ", errors.Select(error => $"{error.Key}: {error.Value}")) + ".";
            return (null, ApiError.Validation(ErrorCodes.TransactionValidation, message));
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
            request.Description!, request.Source!, request.Destination!, request.AllowOverdraft,
            request.OverdraftLimit, request.Inflight, request.SkipQueue, request.Atomic, effectiveDate, scheduledFor,
            expiry, commit, request.MetaData), null);
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
            if (amount < 0)
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

    private static void CheckRouting(TransactionRequest request, SortedDictionary<string, string> errors)
    {
        if (request.Sources is not null || request.Destinations is not null)
        {
            errors[request.Sources is not null ? "sources" : "destinations"] =
                "split transactions (sources/destinations) are not available on this server yet; " +
                "send one source and one destination";
            return;
        }
        if (string.IsNullOrWhiteSpace(request.Source))
        {
            errors["source"] = "either source or sources is required";
        }
        if (string.IsNullOrWhiteSpace(request.Destination))
        {
            errors["destination"] = "either destination or destinations is required";
        }
        foreach (var (key, value) in new[] { ("source", request.Source), ("destination", request.Destination) })
        {
            if (value is { Length: > Limits.IdentifierLengthMax })
            {
                errors[key] = $"the length must be no more than {Limits.IdentifierLengthMax}";
            }
        }
        if (!string.IsNullOrWhiteSpace(request.Source) && request.Source == request.Destination)
        {
            errors["source"] = "source and destination cannot be the same balance";
        }
    }

    private static void Require(SortedDictionary<string, string> errors, string key, string? value,
        int lengthMax)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            errors[key] = "cannot be blank";
        }
        else if (value.Length > lengthMax)
        {
            errors[key] = $"the length must be no more than {lengthMax}";
        }
    }

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
