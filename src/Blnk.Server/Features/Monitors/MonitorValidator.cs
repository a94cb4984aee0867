using System.Numerics;
using Blnk.Core;
using Blnk.Core.Monitors;
using Blnk.Core.Money;
using Blnk.Server.Http;
using Blnk.Server.Json;

namespace Blnk.Server.Features.Monitors;

/// <summary>A monitor request that passed validation; the condition's <c>precise_value</c> is computed.</summary>
public sealed record ValidMonitor(string BalanceId, MonitorCondition Condition, string Description,
    string CallBackUrl, string Trigger);

/// <summary>
/// Checks a <c>POST</c>/<c>PUT /balance-monitors</c> body and computes <c>precise_value</c> (contract §4.4,
/// decision 10). Messages follow Blnk's <c>"key: message; key: message."</c> format, keys sorted, with the
/// condition's own errors nested in parentheses.
/// </summary>
/// <remarks>
/// Blnk refuses <c>value</c> 0 and <c>precision</c> 0 and answers 500 for an operator its database refuses;
/// we accept zeros (precision 0 or absent means 1, as for transactions) and answer 400 for any bad operator.
/// </remarks>
public static class MonitorValidator
{
    private const string FiniteNumber = "must be a finite number";

    public static (ValidMonitor? Value, string? Error) Validate(MonitorRequest request)
    {
        var errors = new SortedDictionary<string, string>(StringComparer.Ordinal);
        FieldErrors.Require(errors, "balance_id", request.BalanceId, Limits.IdentifierLengthMax);
        MonitorCondition? condition = null;
        if (request.Condition is null)
        {
            errors["condition"] = FieldErrors.Blank;
        }
        else
        {
            var conditionErrors = new SortedDictionary<string, string>(StringComparer.Ordinal);
            condition = ValidateCondition(request.Condition, conditionErrors);
            if (conditionErrors.Count > 0)
            {
                errors["condition"] = $"({FieldErrors.Message(conditionErrors)})";
            }
        }
        var trigger = string.IsNullOrEmpty(request.Trigger) ? MonitorTrigger.Level : request.Trigger;
        if (trigger is not (MonitorTrigger.Level or MonitorTrigger.Edge))
        {
            errors["trigger"] = $"must be \"{MonitorTrigger.Level}\" or \"{MonitorTrigger.Edge}\"";
        }
        var callBackUrl = request.CallBackUrl ?? "";
        if (callBackUrl.Length > 0 && CallableUrl.Problem(callBackUrl) is { } problem)
        {
            errors["call_back_url"] = problem;
        }
        if (errors.Count > 0)
        {
            return (null, FieldErrors.Message(errors));
        }
        return (new ValidMonitor(request.BalanceId!, condition!, request.Description ?? "", callBackUrl, trigger),
            null);
    }

    /// <summary>The condition with its precise value, or null with the reasons in <paramref name="errors"/>.</summary>
    private static MonitorCondition? ValidateCondition(MonitorConditionRequest request,
        SortedDictionary<string, string> errors)
    {
        if (string.IsNullOrEmpty(request.Field))
        {
            errors["field"] = FieldErrors.Blank;
        }
        else if (!MonitorEvaluation.Fields.Contains(request.Field))
        {
            errors["field"] = "must be a valid value";
        }
        if (string.IsNullOrEmpty(request.Operator))
        {
            errors["operator"] = FieldErrors.Blank;
        }
        else if (!MonitorEvaluation.Operators.Contains(request.Operator))
        {
            errors["operator"] = $"must be one of {string.Join(", ", MonitorEvaluation.Operators)}";
        }
        if (!Precision.TryNormalize(request.Precision, out var precision))
        {
            errors["precision"] = PrecisionProblem(request.Precision!.Value);
        }
        if (request.Value is not { } value)
        {
            errors["value"] = FieldErrors.Blank;
            return null;
        }
        // The JSON parser reads 1e400 as infinity; Go's refuses it.
        if (!double.IsFinite(value))
        {
            errors["value"] = FiniteNumber;
            return null;
        }
        if (Precision.ShortestDecimal(value).SignificantDigits() > Precision.AmountSignificantDigitsMax)
        {
            errors["value"] = $"must have at most {Precision.AmountSignificantDigitsMax} significant digits";
            return null;
        }
        if (errors.Count > 0)
        {
            return null;
        }
        var preciseValue = Precision.ToPreciseAmount(value, precision);
        if (BigInteger.Abs(preciseValue) >= Limits.PreciseAmountExclusiveMax)
        {
            errors["value"] = $"value × precision must have at most {Limits.PreciseAmountDigitsMax} digits";
            return null;
        }
        return new MonitorCondition(request.Field!, request.Operator!, value, (double)precision, preciseValue);
    }

    private static string PrecisionProblem(double precision) =>
        !double.IsFinite(precision) ? FiniteNumber
        : precision < 0 ? "must be no less than 0"
        : "must be a whole number";
}
