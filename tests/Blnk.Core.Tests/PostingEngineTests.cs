using System.Globalization;
using System.Numerics;
using Blnk.Core.Balances;
using Blnk.Core.Transactions;

namespace Blnk.Core.Tests;

// Covers PostingEngine.Apply / CheckFunds: the sufficient-funds and overdraft rules (contract §6.4) and money movement.
public sealed class PostingEngineTests
{
    public static TheoryData<string, string, string, string, bool, string, RejectionCode?> FundsCases => new()
    {
        // credit, debit, inflight debit (hold) of the source; amount; allow_overdraft; overdraft_limit; outcome
        { "1000", "0", "0", "500", false, "0", null },                                 // sufficient
        { "500", "0", "0", "500", false, "0", null },                                  // exactly the balance
        { "499", "0", "0", "500", false, "0", RejectionCode.InsufficientFunds },       // one short
        { "0", "0", "0", "1", false, "0", RejectionCode.InsufficientFunds },           // empty balance
        { "1000", "600", "0", "400", false, "0", null },                               // balance is credit − debit
        { "1000", "600", "0", "401", false, "0", RejectionCode.InsufficientFunds },
        { "0", "0", "0", "1000000", true, "0", null },                                 // allow_overdraft, no limit
        { "0", "5000", "7000", "1000000", true, "0", null },                           // unlimited even if negative
        { "0", "0", "0", "100", false, "100", null },                                  // limit without allow_overdraft
        { "0", "0", "0", "101", false, "100", RejectionCode.ExceedsOverdraftLimit },
        { "50", "0", "0", "150", false, "100", null },                                 // limit exactly reached
        { "50", "0", "0", "151", false, "100", RejectionCode.ExceedsOverdraftLimit },  // limit exceeded by one
        { "50", "0", "0", "150", true, "100", null },                                  // allow_overdraft with a limit
        { "50", "0", "0", "151", true, "100", RejectionCode.ExceedsOverdraftLimit },
        { "0", "50", "0", "50", false, "100", null },                                  // already overdrawn
        { "0", "50", "0", "51", false, "100", RejectionCode.ExceedsOverdraftLimit },
        { "1000", "0", "600", "400", false, "0", null },                               // holds reduce availability
        { "1000", "0", "600", "401", false, "0", RejectionCode.InsufficientFunds },
        { "1000", "0", "600", "500", false, "100", null },                             // holds count against limit
        { "1000", "0", "600", "501", false, "100", RejectionCode.ExceedsOverdraftLimit },
        { "1000000000000000000000000000000", "0", "0", "1000000000000000000000000000000", false, "0", null },
        { "1000000000000000000000000000000", "0", "1", "1000000000000000000000000000000", false, "0",
            RejectionCode.InsufficientFunds },
    };

    [Theory]
    [MemberData(nameof(FundsCases))]
    public void CheckFunds_applies_Blnks_sufficient_funds_rule(string credit, string debit, string inflightDebit,
        string amount, bool allowOverdraft, string overdraftLimit, RejectionCode? expected)
    {
        var source = new BalanceAmounts(Big(credit), Big(debit), 0, Big(inflightDebit));
        var posting = new Posting(Big(amount), Inflight: false, allowOverdraft, Big(overdraftLimit));
        Assert.Equal(expected, PostingEngine.CheckFunds(source, posting)?.Code);
    }

    [Theory]
    [MemberData(nameof(FundsCases))]
    public void Apply_moves_the_amount_exactly_when_funds_allow(string credit, string debit, string inflightDebit,
        string amount, bool allowOverdraft, string overdraftLimit, RejectionCode? expected)
    {
        var source = new BalanceAmounts(Big(credit), Big(debit), 0, Big(inflightDebit));
        var destination = new BalanceAmounts(7, 3, 11, 5);
        var sourceBefore = source.Copy();
        var posting = new Posting(Big(amount), Inflight: false, allowOverdraft, Big(overdraftLimit));

        var rejection = PostingEngine.Apply(source, destination, posting);

        Assert.Equal(expected, rejection?.Code);
        var moved = rejection is null ? Big(amount) : BigInteger.Zero;
        AssertAmounts(source, sourceBefore.CreditBalance, sourceBefore.DebitBalance + moved, 0, Big(inflightDebit));
        AssertAmounts(destination, 7 + moved, 3, 11, 5);
        Assert.Equal(sourceBefore.Balance + 4, source.Balance + destination.Balance); // money conserved
    }

    [Theory]
    [InlineData("1000", "400", null)]
    [InlineData("1000", "1000", null)]
    [InlineData("1000", "1001", RejectionCode.InsufficientFunds)]
    public void An_inflight_posting_moves_only_the_inflight_fields(string credit, string amount,
        RejectionCode? expected)
    {
        var source = new BalanceAmounts(Big(credit), 0, 0, 0);
        var destination = BalanceAmounts.Zero();
        var posting = new Posting(Big(amount), Inflight: true, AllowOverdraft: false, OverdraftLimit: 0);

        var rejection = PostingEngine.Apply(source, destination, posting);

        Assert.Equal(expected, rejection?.Code);
        var held = rejection is null ? Big(amount) : BigInteger.Zero;
        AssertAmounts(source, Big(credit), 0, 0, held);
        AssertAmounts(destination, 0, 0, held, 0);
        Assert.Equal(Big(credit), source.Balance);
        Assert.Equal(-held, source.InflightBalance);
        Assert.Equal(held, destination.InflightBalance);
        Assert.Equal(BigInteger.Zero, source.InflightBalance + destination.InflightBalance);
        Assert.Equal(Big(credit) - held, source.Available);
    }

    [Fact]
    public void An_inflight_hold_makes_the_next_posting_fail_for_lack_of_funds()
    {
        var source = new BalanceAmounts(1000, 0, 0, 0);
        var destination = BalanceAmounts.Zero();
        Assert.Null(PostingEngine.Apply(source, destination, new Posting(700, true, false, 0)));
        var second = PostingEngine.Apply(source, destination, new Posting(301, false, false, 0));
        Assert.Equal(RejectionCode.InsufficientFunds, second?.Code);
        Assert.Null(PostingEngine.Apply(source, destination, new Posting(300, false, false, 0)));
        AssertAmounts(source, 1000, 300, 0, 700);
        Assert.Equal(BigInteger.Zero, source.Available);
    }

    [Theory]
    [InlineData("0", false, "0")]
    [InlineData("0", true, "0")]
    [InlineData("0", false, "100")]
    [InlineData("-1", false, "0")]
    [InlineData("-1", true, "0")]
    [InlineData("-500", true, "1000")]
    public void A_zero_or_negative_amount_is_an_invalid_amount_and_changes_nothing(string amount, bool inflight,
        string overdraftLimit)
    {
        var source = new BalanceAmounts(1000, 0, 0, 0);
        var destination = new BalanceAmounts(0, 0, 0, 0);
        var posting = new Posting(Big(amount), inflight, AllowOverdraft: true, Big(overdraftLimit));

        var rejection = PostingEngine.Apply(source, destination, posting);

        Assert.Equal(RejectionCode.InvalidAmount, rejection?.Code);
        AssertAmounts(source, 1000, 0, 0, 0);
        AssertAmounts(destination, 0, 0, 0, 0);
    }

    [Fact]
    public void The_amount_check_runs_before_the_funds_check()
    {
        var rejection = PostingEngine.Apply(BalanceAmounts.Zero(), BalanceAmounts.Zero(), new Posting(0, false, false, 0));
        Assert.Equal(RejectionCode.InvalidAmount, rejection?.Code);
    }

    [Fact]
    public void Inflight_credit_does_not_make_funds_available()
    {
        var source = new BalanceAmounts(0, 0, 1000, 0);
        var rejection = PostingEngine.Apply(source, BalanceAmounts.Zero(), new Posting(1, false, false, 0));
        Assert.Equal(RejectionCode.InsufficientFunds, rejection?.Code);
    }

    [Fact]
    public void Many_postings_between_balances_conserve_money()
    {
        var balances = Enumerable.Range(0, 5).Select(_ => new BalanceAmounts(1000, 0, 0, 0)).ToArray();
        var random = new Random(42);
        for (var i = 0; i < 2000; i++)
        {
            var from = random.Next(balances.Length);
            var to = (from + 1 + random.Next(balances.Length - 1)) % balances.Length;
            var posting = new Posting(random.Next(1, 400), Inflight: random.Next(4) == 0, AllowOverdraft: false,
                OverdraftLimit: random.Next(3) * 50);
            PostingEngine.Apply(balances[from], balances[to], posting);
        }
        Assert.Equal(new BigInteger(5000), balances.Aggregate(BigInteger.Zero, (sum, b) => sum + b.Balance));
        Assert.Equal(BigInteger.Zero, balances.Aggregate(BigInteger.Zero, (sum, b) => sum + b.InflightBalance));
        Assert.All(balances, b => Assert.True(b.Available >= -100, $"available {b.Available} beyond the largest limit"));
    }

    [Fact]
    public void Rejections_carry_Blnks_messages()
    {
        var source = new BalanceAmounts(0, 0, 0, 0);
        Assert.Equal("insufficient funds in source balance",
            PostingEngine.Apply(source, BalanceAmounts.Zero(), new Posting(1, false, false, 0))?.Message);
        Assert.Equal("transaction exceeds overdraft limit",
            PostingEngine.Apply(source, BalanceAmounts.Zero(), new Posting(2, false, false, 1))?.Message);
        Assert.Equal("transaction amount must be positive",
            PostingEngine.Apply(source, BalanceAmounts.Zero(), new Posting(0, false, false, 0))?.Message);
    }

    private static void AssertAmounts(BalanceAmounts amounts, BigInteger credit, BigInteger debit,
        BigInteger inflightCredit, BigInteger inflightDebit)
    {
        Assert.Equal(credit, amounts.CreditBalance);
        Assert.Equal(debit, amounts.DebitBalance);
        Assert.Equal(inflightCredit, amounts.InflightCreditBalance);
        Assert.Equal(inflightDebit, amounts.InflightDebitBalance);
        Assert.Equal(credit - debit, amounts.Balance);
        Assert.Equal(inflightCredit - inflightDebit, amounts.InflightBalance);
    }

    private static BigInteger Big(string value) => BigInteger.Parse(value, CultureInfo.InvariantCulture);
}
