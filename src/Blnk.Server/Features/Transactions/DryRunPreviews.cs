using System.Globalization;
using System.Numerics;
using Blnk.Core.Balances;
using Blnk.Core.Money;
using Blnk.Core.Transactions;
using Blnk.Server.Json;
using Blnk.Server.Writer;

namespace Blnk.Server.Features.Transactions;

/// <summary>Turns a dry-run unit's outcome into Blnk's preview shape (contract §15.1).</summary>
public static class DryRunPreviews
{
    /// <remarks>
    /// <paramref name="shape"/> is the transaction as it would be recorded (reference, currency, amounts,
    /// status); <paramref name="roles"/> maps balance ids to "source" or "destination"; <paramref name="status"/>
    /// names the status a queued request would get (the preview itself is always decided as if applied).
    /// </remarks>
    public static DryRunPreview From(UnitOutcome outcome, TransactionRecord shape,
        IReadOnlyDictionary<string, string> roles, string? operation = null, List<LegPreview>? legs = null,
        IReadOnlyCollection<string>? virtualBalanceIds = null, string? status = null)
    {
        var refusal = outcome.FirstRejection;
        var notes = new List<string>();
        if (virtualBalanceIds is { Count: > 0 })
        {
            notes.Add("balances marked virtual do not exist yet; they would be created in the General Ledger");
        }
        return new DryRunPreview
        {
            WouldApply = refusal is null,
            Rejection = refusal is null ? null : ToWire(refusal),
            Operation = operation,
            Status = refusal is null ? status ?? StatusOf(outcome, shape) : null,
            Reference = shape.Reference,
            Currency = shape.Currency,
            Amount = Precision.ToAmount(shape.PreciseAmount, shape.Precision),
            PreciseAmount = shape.PreciseAmount.ToString(CultureInfo.InvariantCulture),
            Precision = shape.Precision,
            Balances = [.. (outcome.Changes ?? []).Select(change => ToWire(change,
                roles.GetValueOrDefault(change.Before.BalanceId, "source"),
                virtualBalanceIds?.Contains(change.Before.BalanceId) == true))],
            Legs = legs,
            Notes = notes.Count > 0 ? notes : null,
        };
    }

    public static DryRunRejection ToWire(Rejection refusal)
    {
        var error = TransactionService.ToApiError(refusal);
        return new DryRunRejection
        {
            Code = error.Code,
            Reason = refusal.Code switch
            {
                RejectionCode.InsufficientFunds => "insufficient_funds",
                RejectionCode.ExceedsOverdraftLimit => "overdraft_limit",
                _ => "other",
            },
            Message = error.Message,
        };
    }

    private static string StatusOf(UnitOutcome outcome, TransactionRecord shape) =>
        outcome.Operations.FirstOrDefault(operation => operation.Row is not null)?.Row?.Status ?? shape.Status;

    private static BalancePreview ToWire(BalanceChange change, string role, bool isVirtual) => new()
    {
        BalanceId = change.Before.BalanceId,
        Role = role,
        Currency = change.Before.Currency,
        Virtual = isVirtual ? true : null,
        CurrentBalance = Text(change.Before.Amounts.Balance),
        CurrentAvailable = Text(change.Before.Amounts.Available),
        CurrentCreditBalance = Text(change.Before.Amounts.CreditBalance),
        CurrentDebitBalance = Text(change.Before.Amounts.DebitBalance),
        CurrentInflightDebitBalance = Text(change.Before.Amounts.InflightDebitBalance),
        CurrentInflightCreditBalance = Text(change.Before.Amounts.InflightCreditBalance),
        ResultingBalance = Text(change.After.Amounts.Balance),
        ResultingAvailable = Text(change.After.Amounts.Available),
        ResultingCreditBalance = Text(change.After.Amounts.CreditBalance),
        ResultingDebitBalance = Text(change.After.Amounts.DebitBalance),
        ResultingInflightDebitBalance = Text(change.After.Amounts.InflightDebitBalance),
        ResultingInflightCreditBalance = Text(change.After.Amounts.InflightCreditBalance),
    };

    private static string Text(BigInteger value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>A balance that a dry run may name before it exists: a fresh @indicator balance.</summary>
    public static Balance VirtualIndicatorBalance(string balanceId, string indicator, string currency, DateTime now) =>
        new()
        {
            BalanceId = balanceId, LedgerId = Core.Ledgers.Ledger.GeneralLedgerId, Currency = currency,
            Indicator = indicator, CreatedAt = now,
        };
}
