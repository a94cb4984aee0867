using System.Numerics;
using Blnk.Core.Balances;

namespace Blnk.Core.Monitors;

/// <summary>Whether a balance meets a monitor's condition, and whether a change makes a monitor fire.</summary>
public static class MonitorEvaluation
{
    public static readonly IReadOnlyList<string> Fields =
    [
        "debit_balance", "credit_balance", "balance", "inflight_debit_balance", "inflight_credit_balance",
        "inflight_balance",
    ];

    public static readonly IReadOnlyList<string> Operators = [">", "<", ">=", "<=", "=", "!="];

    /// <summary>The condition against the balance's exact minor units; an unknown field or operator never holds.</summary>
    public static bool IsMet(MonitorCondition condition, BalanceAmounts amounts)
    {
        if (FieldValue(condition.Field, amounts) is not { } actual)
        {
            return false;
        }
        var comparison = actual.CompareTo(condition.PreciseValue);
        return condition.Operator switch
        {
            ">" => comparison > 0,
            "<" => comparison < 0,
            ">=" => comparison >= 0,
            "<=" => comparison <= 0,
            "=" => comparison == 0,
            "!=" => comparison != 0,
            _ => false,
        };
    }

    /// <summary>
    /// A level monitor fires on every change after which the condition holds; an edge monitor only when the
    /// condition did not hold before the change and holds after it (decision 10).
    /// </summary>
    public static bool Fires(BalanceMonitor monitor, BalanceAmounts before, BalanceAmounts after) =>
        IsMet(monitor.Condition, after)
        && (monitor.Trigger != MonitorTrigger.Edge || !IsMet(monitor.Condition, before));

    private static BigInteger? FieldValue(string field, BalanceAmounts amounts) => field switch
    {
        "debit_balance" => amounts.DebitBalance,
        "credit_balance" => amounts.CreditBalance,
        "balance" => amounts.Balance,
        "inflight_debit_balance" => amounts.InflightDebitBalance,
        "inflight_credit_balance" => amounts.InflightCreditBalance,
        "inflight_balance" => amounts.InflightBalance,
        _ => null,
    };
}
