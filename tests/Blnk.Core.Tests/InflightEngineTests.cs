using System.Numerics;
using Blnk.Core.Balances;
using Blnk.Core.Transactions;

namespace Blnk.Core.Tests;

// Covers InflightEngine: commit (full, partial, repeated) and void of a hold, each refusal and its text, and
// that holds move only between the inflight and the main fields, conserving money (contract §6.5).
public sealed class InflightEngineTests
{
    private const long HoldAmount = 600;

    // Steps applied in order to one hold of 600 (precision 100, USD): "commit:N" (0 = all remaining) or "void";
    // the expected refusal of the last step, and the hold's committed total and voided flag afterwards.
    public static TheoryData<string, RejectionCode?, long, bool> Sequences => new()
    {
        { "commit:0", null, 600, false },
        { "commit:200", null, 200, false },
        { "commit:200 commit:400", null, 600, false },
        { "commit:200 commit:400 commit:1", RejectionCode.AlreadyCommitted, 600, false },
        { "commit:600 commit:0", RejectionCode.AlreadyCommitted, 600, false },
        { "commit:601", RejectionCode.CommitAmountExceeded, 0, false },
        { "commit:500 commit:101", RejectionCode.CommitAmountExceeded, 500, false },
        { "commit:500 commit:100", null, 600, false },
        { "void", null, 0, true },
        { "commit:250 void", null, 250, true },
        { "void void", RejectionCode.AlreadyVoided, 0, true },
        { "void commit:0", RejectionCode.AlreadyVoided, 0, true },
        { "commit:600 void", RejectionCode.AlreadyCommitted, 600, false },
        { "commit:-5", RejectionCode.InvalidAmount, 0, false },
    };

    [Theory]
    [MemberData(nameof(Sequences))]
    public void Steps_on_one_hold(string steps, RejectionCode? lastRefusal, long committed, bool voided)
    {
        var (hold, source, destination) = NewHold();
        Rejection? refusal = null;
        foreach (var step in steps.Split(' '))
        {
            refusal = Run(hold, source, destination, step);
        }

        Assert.Equal(lastRefusal, refusal?.Code);
        Assert.Equal(committed, (long)hold.Committed);
        Assert.Equal(voided, hold.Voided);
        // The source paid exactly what was committed; what is neither committed nor voided is still held.
        var held = voided ? 0 : HoldAmount - committed;
        Assert.Equal(1000 - committed, (long)source.Balance);
        Assert.Equal(held, (long)source.InflightDebitBalance);
        Assert.Equal(committed, (long)destination.Balance);
        Assert.Equal(held, (long)destination.InflightCreditBalance);
        Assert.Equal(BigInteger.Zero, source.Balance + destination.Balance - 1000);
        Assert.Equal(BigInteger.Zero, source.InflightBalance + destination.InflightBalance);
    }

    [Fact]
    public void Refusals_say_what_was_asked_and_what_is_left()
    {
        var (hold, source, destination) = NewHold();
        Assert.Equal("cannot commit more than the original transaction amount. Original: USD6.00, Requested: USD6.01",
            InflightEngine.Commit(hold, source, destination, 601, out _)!.Message);
        Assert.Null(InflightEngine.Commit(hold, source, destination, 450, out _));
        Assert.Equal("cannot commit more than the remaining amount. Available: USD1.50, Requested: USD2.00",
            InflightEngine.Commit(hold, source, destination, 200, out _)!.Message);
        Assert.Null(InflightEngine.Void(hold, source, destination, out var released));
        Assert.Equal(150, (long)released);
        Assert.Equal("transaction has already been voided", InflightEngine.CheckVoid(hold)!.Message);
    }

    [Fact]
    public void Only_an_inflight_row_can_be_resolved()
    {
        var (hold, _, _) = NewHold(TransactionStatus.Applied);
        Assert.Equal(RejectionCode.NotInflight, InflightEngine.CheckCommit(hold, null)!.Code);
        Assert.Equal("transaction is not in inflight status", InflightEngine.CheckVoid(hold)!.Message);
    }

    [Fact]
    public void Committing_everything_of_a_huge_hold_is_exact()
    {
        var amount = BigInteger.Pow(10, 40) + 3;
        var row = Row(amount, TransactionStatus.Inflight);
        var hold = new Hold(row, 0, false);
        var source = new BalanceAmounts(amount, 0, 0, amount);
        var destination = new BalanceAmounts(0, 0, amount, 0);

        Assert.Null(InflightEngine.Commit(hold, source, destination, amount - 1, out _));
        Assert.Null(InflightEngine.Commit(hold, source, destination, null, out var last));

        Assert.Equal(BigInteger.One, last);
        Assert.Equal(amount, destination.Balance);
        Assert.Equal(BigInteger.Zero, source.Balance);
        Assert.Equal(BigInteger.Zero, source.InflightDebitBalance + destination.InflightCreditBalance);
    }

    private static Rejection? Run(Hold hold, BalanceAmounts source, BalanceAmounts destination, string step)
    {
        if (step == "void")
        {
            return InflightEngine.Void(hold, source, destination, out _);
        }
        var amount = long.Parse(step["commit:".Length..], System.Globalization.CultureInfo.InvariantCulture);
        return InflightEngine.Commit(hold, source, destination, amount == 0 ? null : amount, out _);
    }

    /// <summary>A source of 1000 holding 600 for the destination, as PostingEngine leaves them.</summary>
    private static (Hold Hold, BalanceAmounts Source, BalanceAmounts Destination) NewHold(
        string status = TransactionStatus.Inflight) =>
        (new Hold(Row(HoldAmount, status), 0, false), new BalanceAmounts(1000, 0, 0, HoldAmount),
            new BalanceAmounts(0, 0, HoldAmount, 0));

    private static TransactionRecord Row(BigInteger amount, string status) => new()
    {
        TransactionId = "txn_hold",
        Source = "bln_source",
        Destination = "bln_destination",
        Reference = "hold",
        Currency = "USD",
        Status = status,
        Hash = "",
        PreciseAmount = amount,
        Precision = 100,
        CreatedAt = DateTime.UnixEpoch,
    };
}
