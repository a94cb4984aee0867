using System.Globalization;
using System.Numerics;
using Blnk.Core.Balances;
using Blnk.Core.Money;

namespace Blnk.Core.Transactions;

/// <summary>What may still happen to an inflight hold: how much of it is committed, and whether it is voided.</summary>
public sealed class Hold(TransactionRecord row, BigInteger committed, bool voided)
{
    /// <summary>The INFLIGHT row that holds the funds.</summary>
    public TransactionRecord Row { get; } = row;

    public BigInteger Committed { get; private set; } = committed;

    public bool Voided { get; private set; } = voided;

    public BigInteger Remaining => Voided ? BigInteger.Zero : Row.PreciseAmount - Committed;

    public Hold Clone() => new(Row, Committed, Voided);

    internal void RecordCommit(BigInteger amount)
    {
        Invariant.Assert(amount.Sign > 0 && amount <= Remaining);
        Committed += amount;
    }

    internal void RecordVoid()
    {
        Invariant.Assert(!Voided);
        Voided = true;
    }
}

/// <summary>
/// Committing and voiding inflight holds (contract §6.5). Pure: the caller has loaded and locked the
/// hold's balances and its progress, and persists the result.
/// </summary>
public static class InflightEngine
{
    /// <summary>Commits <paramref name="amount"/> (null: everything remaining); null result means committed.</summary>
    public static Rejection? Commit(Hold hold, BalanceAmounts source, BalanceAmounts destination, BigInteger? amount,
        out BigInteger committed)
    {
        committed = amount ?? hold.Remaining;
        var refusal = CheckCommit(hold, amount);
        if (refusal is not null)
        {
            return refusal;
        }
        source.ReleaseDebitHold(committed);
        source.Debit(committed);
        destination.ReleaseCreditHold(committed);
        destination.Credit(committed);
        hold.RecordCommit(committed);
        Invariant.Assert(hold.Committed <= hold.Row.PreciseAmount);
        return null;
    }

    /// <summary>Releases everything remaining; null result means voided.</summary>
    public static Rejection? Void(Hold hold, BalanceAmounts source, BalanceAmounts destination, out BigInteger released)
    {
        released = hold.Remaining;
        var refusal = CheckVoid(hold);
        if (refusal is not null)
        {
            return refusal;
        }
        source.ReleaseDebitHold(released);
        destination.ReleaseCreditHold(released);
        hold.RecordVoid();
        Invariant.Assert(hold.Remaining.IsZero);
        return null;
    }

    /// <summary>Whether a commit of <paramref name="amount"/> (null: all remaining) would be refused, and why.</summary>
    public static Rejection? CheckCommit(Hold hold, BigInteger? amount) =>
        CheckActionable(hold, "commit") ?? CheckCommitAmount(hold, amount ?? hold.Remaining);

    /// <summary>Whether a void would be refused, and why.</summary>
    public static Rejection? CheckVoid(Hold hold) => CheckActionable(hold, "void");

    private static Rejection? CheckActionable(Hold hold, string action)
    {
        if (hold.Row.Status != TransactionStatus.Inflight)
        {
            return Rejection.NotInflight();
        }
        if (hold.Voided)
        {
            return Rejection.AlreadyVoided();
        }
        return hold.Remaining.IsZero ? Rejection.AlreadyCommitted(action) : null;
    }

    private static Rejection? CheckCommitAmount(Hold hold, BigInteger amount)
    {
        if (amount.Sign <= 0)
        {
            return Rejection.InvalidAmount();
        }
        var row = hold.Row;
        if (amount > row.PreciseAmount)
        {
            return Rejection.CommitAmountExceeded("cannot commit more than the original transaction amount. " +
                $"Original: {Major(row, row.PreciseAmount)}, Requested: {Major(row, amount)}");
        }
        return amount > hold.Remaining
            ? Rejection.CommitAmountExceeded("cannot commit more than the remaining amount. " +
                $"Available: {Major(row, hold.Remaining)}, Requested: {Major(row, amount)}")
            : null;
    }

    /// <summary>Blnk's "&lt;CUR&gt;&lt;%.2f&gt;" rendering of an amount in major units.</summary>
    private static string Major(TransactionRecord row, BigInteger preciseAmount) =>
        row.Currency + Precision.ToAmount(preciseAmount, row.Precision).ToString("F2", CultureInfo.InvariantCulture);
}
