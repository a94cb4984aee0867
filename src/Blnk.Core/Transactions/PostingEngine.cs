using System.Numerics;
using Blnk.Core.Balances;

namespace Blnk.Core.Transactions;

/// <summary>The rules one transfer is checked against; amounts in minor units.</summary>
public readonly record struct Posting(
    BigInteger PreciseAmount,
    bool Inflight,
    bool AllowOverdraft,
    BigInteger OverdraftLimit);

/// <summary>
/// Applies a transfer to two in-memory balances. Pure: no I/O, no clock. The caller has loaded and
/// locked the balances and persists them afterwards.
/// </summary>
public static class PostingEngine
{
    /// <summary>Checks the source's funds and, when allowed, moves the amount; null means applied.</summary>
    public static Rejection? Apply(BalanceAmounts source, BalanceAmounts destination, Posting posting)
    {
        if (posting.PreciseAmount.Sign <= 0)
        {
            return Rejection.InvalidAmount();
        }
        var refusal = CheckFunds(source, posting);
        if (refusal is not null)
        {
            return refusal;
        }
        var totalBefore = source.Balance + destination.Balance;
        var inflightTotalBefore = source.InflightBalance + destination.InflightBalance;
        if (posting.Inflight)
        {
            source.HoldDebit(posting.PreciseAmount);
            destination.HoldCredit(posting.PreciseAmount);
        }
        else
        {
            source.Debit(posting.PreciseAmount);
            destination.Credit(posting.PreciseAmount);
        }
        Invariant.Assert(ReferenceEquals(source, destination) || source.Balance + destination.Balance == totalBefore);
        Invariant.Assert(source.InflightBalance + destination.InflightBalance == inflightTotalBefore
            || ReferenceEquals(source, destination));
        return null;
    }

    /// <summary>
    /// Blnk's sufficient-funds rule (contract §6.4): holds count against availability; an overdraft
    /// limit applies even without <c>allow_overdraft</c>; <c>allow_overdraft</c> with no limit means unlimited.
    /// </summary>
    public static Rejection? CheckFunds(BalanceAmounts source, Posting posting)
    {
        if (posting.AllowOverdraft && posting.OverdraftLimit.IsZero)
        {
            return null;
        }
        var available = source.Available;
        if (available >= posting.PreciseAmount)
        {
            return null;
        }
        if (posting.OverdraftLimit.Sign > 0)
        {
            return available - posting.PreciseAmount >= -posting.OverdraftLimit
                ? null
                : Rejection.ExceedsOverdraftLimit();
        }
        return Rejection.InsufficientFunds();
    }
}
