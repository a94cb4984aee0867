using System.Numerics;
using Blnk.Core.Balances;

namespace Blnk.Core.Tests;

// Covers BalanceAmounts: non-negative stored fields and the derived balance, inflight balance and availability.
public sealed class BalanceAmountsTests
{
    [Theory]
    [InlineData(-1, 0, 0, 0)]
    [InlineData(0, -1, 0, 0)]
    [InlineData(0, 0, -1, 0)]
    [InlineData(0, 0, 0, -1)]
    [InlineData(-5, -5, -5, -5)]
    public void A_negative_stored_field_is_an_invariant_violation(long credit, long debit, long inflightCredit,
        long inflightDebit)
    {
        Assert.Throws<InvariantException>(() => new BalanceAmounts(credit, debit, inflightCredit, inflightDebit));
    }

    [Theory]
    [InlineData(0, 0, 0, 0, 0, 0, 0)]
    [InlineData(1000, 300, 0, 0, 700, 0, 700)]
    [InlineData(300, 1000, 0, 0, -700, 0, -700)]
    [InlineData(1000, 0, 250, 400, 1000, -150, 600)]
    [InlineData(0, 0, 500, 0, 0, 500, 0)]
    public void Derived_fields_follow_from_the_stored_ones(long credit, long debit, long inflightCredit,
        long inflightDebit, long balance, long inflightBalance, long available)
    {
        var amounts = new BalanceAmounts(credit, debit, inflightCredit, inflightDebit);
        Assert.Equal(new BigInteger(balance), amounts.Balance);
        Assert.Equal(new BigInteger(inflightBalance), amounts.InflightBalance);
        Assert.Equal(new BigInteger(available), amounts.Available);
    }

    [Fact]
    public void Zero_is_all_zero_and_Copy_is_independent()
    {
        var zero = BalanceAmounts.Zero();
        Assert.Equal(BigInteger.Zero, zero.CreditBalance + zero.DebitBalance + zero.InflightCreditBalance
            + zero.InflightDebitBalance);

        var original = new BalanceAmounts(100, 0, 0, 0);
        var copy = original.Copy();
        Assert.NotSame(original, copy);
        Transactions.PostingEngine.Apply(original, BalanceAmounts.Zero(), new Transactions.Posting(60, false, false, 0));
        Assert.Equal(new BigInteger(40), original.Balance);
        Assert.Equal(new BigInteger(100), copy.Balance);
    }

    [Fact]
    public void Amounts_beyond_64_bits_are_exact()
    {
        var huge = BigInteger.Pow(10, 30) + 7;
        var amounts = new BalanceAmounts(huge, 1, huge, huge - 7);
        Assert.Equal(huge - 1, amounts.Balance);
        Assert.Equal(new BigInteger(7), amounts.InflightBalance);
        Assert.Equal(new BigInteger(6), amounts.Available);
    }
}
