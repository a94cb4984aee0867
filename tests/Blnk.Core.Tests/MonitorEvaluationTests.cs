using System.Globalization;
using System.Numerics;
using Blnk.Core.Balances;
using Blnk.Core.Monitors;

namespace Blnk.Core.Tests;

// Covers MonitorEvaluation: every operator against every field at one below, equal to and one above the
// threshold (zero, small, negative and beyond-64-bit thresholds), unknown fields and operators, and when level
// and edge monitors fire. The expected outcomes come from an explicit table, not from the code under test.
// Not covered here: how the writer collects fired monitors (server tests) or how precise_value is computed
// from value × precision (PreciseAmountTests and the server's monitor tests).
public sealed class MonitorEvaluationTests
{
    private const string BeyondSixtyFourBits = "100000000000000000000000000007";

    private static readonly string[] SignedFields = ["balance", "inflight_balance"];

    // Which position of the balance relative to the threshold satisfies each operator: below, equal, above.
    private static readonly Dictionary<string, (bool Below, bool Equal, bool Above)> Holds = new()
    {
        [">"] = (false, false, true),
        ["<"] = (true, false, false),
        [">="] = (false, true, true),
        ["<="] = (true, true, false),
        ["="] = (false, true, false),
        ["!="] = (true, false, true),
    };

    public static TheoryData<string, string, string, int, bool> EveryOperatorOnEveryField()
    {
        var rows = new TheoryData<string, string, string, int, bool>();
        foreach (var field in MonitorEvaluation.Fields)
        {
            foreach (var threshold in ThresholdsOf(field))
            {
                foreach (var (@operator, holds) in Holds)
                {
                    rows.Add(field, @operator, threshold, -1, holds.Below);
                    rows.Add(field, @operator, threshold, 0, holds.Equal);
                    rows.Add(field, @operator, threshold, 1, holds.Above);
                }
            }
        }
        return rows;
    }

    [Theory]
    [MemberData(nameof(EveryOperatorOnEveryField))]
    public void An_operator_holds_exactly_where_its_table_says(string field, string @operator, string threshold,
        int offset, bool expected)
    {
        var preciseValue = BigInteger.Parse(threshold, CultureInfo.InvariantCulture);
        var amounts = AmountsWith(field, preciseValue + offset);
        var condition = new MonitorCondition(field, @operator, 0, 100, preciseValue);

        Assert.Equal(expected, MonitorEvaluation.IsMet(condition, amounts));
    }

    [Theory]
    [InlineData("")]
    [InlineData("Balance")]
    [InlineData("available")]
    [InlineData("queued_debit_balance")]
    [InlineData(" balance")]
    public void An_unknown_field_never_holds(string field)
    {
        var amounts = new BalanceAmounts(500, 0, 0, 0);
        foreach (var @operator in MonitorEvaluation.Operators)
        {
            foreach (var preciseValue in new BigInteger[] { -1, 0, 500, 501 })
            {
                Assert.False(MonitorEvaluation.IsMet(new MonitorCondition(field, @operator, 0, 1, preciseValue),
                    amounts));
            }
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("=>")]
    [InlineData("<>")]
    [InlineData("eq")]
    [InlineData(" >")]
    [InlineData("≥")]
    public void An_unknown_operator_never_holds(string @operator)
    {
        foreach (var field in MonitorEvaluation.Fields)
        {
            var amounts = AmountsWith(field, 500);
            foreach (var preciseValue in new BigInteger[] { 499, 500, 501 })
            {
                Assert.False(MonitorEvaluation.IsMet(new MonitorCondition(field, @operator, 0, 1, preciseValue),
                    amounts));
            }
        }
    }

    [Fact]
    public void The_wire_vocabulary_is_the_six_fields_and_the_six_operators()
    {
        Assert.Equal(["debit_balance", "credit_balance", "balance", "inflight_debit_balance",
            "inflight_credit_balance", "inflight_balance"], MonitorEvaluation.Fields);
        Assert.Equal([">", "<", ">=", "<=", "=", "!="], MonitorEvaluation.Operators);
    }

    [Theory]
    // trigger, met before the change, met after it, fires
    [InlineData(MonitorTrigger.Level, false, false, false)]
    [InlineData(MonitorTrigger.Level, false, true, true)]
    [InlineData(MonitorTrigger.Level, true, true, true)]
    [InlineData(MonitorTrigger.Level, true, false, false)]
    [InlineData(MonitorTrigger.Edge, false, false, false)]
    [InlineData(MonitorTrigger.Edge, false, true, true)]
    [InlineData(MonitorTrigger.Edge, true, true, false)]
    [InlineData(MonitorTrigger.Edge, true, false, false)]
    public void Level_fires_whenever_the_condition_holds_after_a_change_edge_only_when_it_starts_to(
        string trigger, bool metBefore, bool metAfter, bool fires)
    {
        // The condition is "balance < 0": met by a debit balance of 100, not by a credit balance of 100.
        var monitor = Monitor(trigger, new MonitorCondition("balance", "<", 0, 100, 0));
        var before = metBefore ? new BalanceAmounts(0, 100, 0, 0) : new BalanceAmounts(100, 0, 0, 0);
        var after = metAfter ? new BalanceAmounts(0, 100, 0, 0) : new BalanceAmounts(100, 0, 0, 0);

        Assert.Equal(fires, MonitorEvaluation.Fires(monitor, before, after));
    }

    [Fact]
    public void An_edge_monitor_compares_exact_minor_units_beyond_64_bits()
    {
        var threshold = BigInteger.Parse(BeyondSixtyFourBits, CultureInfo.InvariantCulture);
        var monitor = Monitor(MonitorTrigger.Edge, new MonitorCondition("credit_balance", ">=", 0, 1, threshold));

        Assert.True(MonitorEvaluation.Fires(monitor, new BalanceAmounts(threshold - 1, 0, 0, 0),
            new BalanceAmounts(threshold, 0, 0, 0)));
        Assert.False(MonitorEvaluation.Fires(monitor, new BalanceAmounts(threshold, 0, 0, 0),
            new BalanceAmounts(threshold + 1, 0, 0, 0)));
    }

    private static string[] ThresholdsOf(string field)
    {
        // A stored field is never negative, so its thresholds start at 1 (one below is then 0).
        string[] unsigned = ["1", "1050", BeyondSixtyFourBits];
        return SignedFields.Contains(field) ? [.. unsigned, "0", "-1050", "-" + BeyondSixtyFourBits] : unsigned;
    }

    /// <summary>
    /// Amounts whose <paramref name="field"/> is <paramref name="value"/> while every other field holds a different
    /// value, so a comparison against the wrong field shows up.
    /// </summary>
    private static BalanceAmounts AmountsWith(string field, BigInteger value)
    {
        var decoy = BigInteger.Pow(10, 31) + 3;
        var positive = BigInteger.Max(value, 0);
        var negative = BigInteger.Max(-value, 0);
        return field switch
        {
            "debit_balance" => new BalanceAmounts(decoy * 2, value, decoy, decoy * 3),
            "credit_balance" => new BalanceAmounts(value, decoy * 2, decoy, decoy * 3),
            "balance" => new BalanceAmounts(decoy + positive, decoy + negative, decoy * 2, decoy * 5),
            "inflight_debit_balance" => new BalanceAmounts(decoy, decoy * 2, decoy * 3, value),
            "inflight_credit_balance" => new BalanceAmounts(decoy, decoy * 2, value, decoy * 3),
            "inflight_balance" => new BalanceAmounts(decoy * 5, decoy * 2, decoy + positive, decoy + negative),
            _ => throw new ArgumentOutOfRangeException(nameof(field), field, "not a monitor field"),
        };
    }

    private static BalanceMonitor Monitor(string trigger, MonitorCondition condition) => new()
    {
        MonitorId = "mon_test",
        BalanceId = "bln_test",
        Condition = condition,
        Trigger = trigger,
        CreatedAt = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc),
    };
}
