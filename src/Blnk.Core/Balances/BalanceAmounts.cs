using System.Numerics;

namespace Blnk.Core.Balances;

/// <summary>
/// The money fields of one balance, in minor units. <c>Balance</c> and <c>InflightBalance</c> are
/// derived, never stored separately in memory, so <c>balance = credit − debit</c> cannot drift.
/// </summary>
public sealed class BalanceAmounts
{
    public BigInteger CreditBalance { get; private set; }
    public BigInteger DebitBalance { get; private set; }
    public BigInteger InflightCreditBalance { get; private set; }
    public BigInteger InflightDebitBalance { get; private set; }

    public BigInteger Balance => CreditBalance - DebitBalance;
    public BigInteger InflightBalance => InflightCreditBalance - InflightDebitBalance;

    /// <summary>What a debit may spend before any overdraft: the balance less holds on it.</summary>
    public BigInteger Available => Balance - InflightDebitBalance;

    public BalanceAmounts(BigInteger credit, BigInteger debit, BigInteger inflightCredit, BigInteger inflightDebit)
    {
        Invariant.Assert(credit.Sign >= 0);
        Invariant.Assert(debit.Sign >= 0);
        Invariant.Assert(inflightCredit.Sign >= 0);
        Invariant.Assert(inflightDebit.Sign >= 0);
        CreditBalance = credit;
        DebitBalance = debit;
        InflightCreditBalance = inflightCredit;
        InflightDebitBalance = inflightDebit;
    }

    public static BalanceAmounts Zero() => new(0, 0, 0, 0);

    public BalanceAmounts Copy() => new(CreditBalance, DebitBalance, InflightCreditBalance, InflightDebitBalance);

    internal void Debit(BigInteger amount) => DebitBalance += Positive(amount);

    internal void Credit(BigInteger amount) => CreditBalance += Positive(amount);

    internal void HoldDebit(BigInteger amount) => InflightDebitBalance += Positive(amount);

    internal void HoldCredit(BigInteger amount) => InflightCreditBalance += Positive(amount);

    internal void ReleaseDebitHold(BigInteger amount)
    {
        Invariant.Assert(InflightDebitBalance >= Positive(amount));
        InflightDebitBalance -= amount;
    }

    internal void ReleaseCreditHold(BigInteger amount)
    {
        Invariant.Assert(InflightCreditBalance >= Positive(amount));
        InflightCreditBalance -= amount;
    }

    private static BigInteger Positive(BigInteger amount)
    {
        Invariant.Assert(amount.Sign > 0);
        return amount;
    }
}
