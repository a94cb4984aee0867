using System.Globalization;
using System.Numerics;
using Blnk.Core.Identities;
using Blnk.Core.Lineage;

namespace Blnk.Core.Tests;

// Covers LineageAllocation (FIFO, LIFO and PROPORTIONAL over provider sources, exhausted providers, untagged
// money, proportional remainders, zero and one source, amounts beyond 64 bits) and LineageNames (the identity
// identifier and the indicator names). Not covered here: reading shadow balances and writing the shadow
// transactions (the lineage HTTP tests).
public sealed class LineageAllocationTests
{
    // Sources are "provider:available" in mapping creation order (oldest first); the expected shares are
    // "provider:amount" in the order they are allocated; "-" is no share at all.
    public static TheoryData<string, string, long, string> Allocations => new()
    {
        // FIFO: oldest provider first.
        { "FIFO", "stripe:100 paypal:50", 30, "stripe:30" },
        { "FIFO", "stripe:100 paypal:50", 100, "stripe:100" },
        { "FIFO", "stripe:100 paypal:50", 120, "stripe:100 paypal:20" },
        { "FIFO", "stripe:100 paypal:50", 150, "stripe:100 paypal:50" },
        // LIFO: newest provider first.
        { "LIFO", "stripe:100 paypal:50", 30, "paypal:30" },
        { "LIFO", "stripe:100 paypal:50", 120, "paypal:50 stripe:70" },
        { "LIFO", "stripe:100 paypal:50 wise:10", 65, "wise:10 paypal:50 stripe:5" },
        // PROPORTIONAL: by share, rounded down, the last takes the remainder.
        { "PROPORTIONAL", "stripe:100 paypal:50", 30, "stripe:20 paypal:10" },
        { "PROPORTIONAL", "stripe:100 paypal:50", 100, "stripe:66 paypal:34" },
        { "PROPORTIONAL", "a:1 b:1 c:1", 2, "a:1 c:1" },
        { "PROPORTIONAL", "a:1 b:1 c:1", 1, "c:1" },
        { "PROPORTIONAL", "a:3 b:3 c:3", 7, "a:2 b:2 c:3" },
        // The last source's remainder exceeds what it has: the excess comes from the earlier ones in order.
        { "PROPORTIONAL", "a:3 b:3 c:1", 6, "a:3 b:2 c:1" },
        { "PROPORTIONAL", "a:10 b:1", 10, "a:9 b:1" },
        // Exhausted (or overspent) providers take no part.
        { "FIFO", "stripe:0 paypal:50", 30, "paypal:30" },
        { "LIFO", "stripe:100 paypal:-5", 30, "stripe:30" },
        { "PROPORTIONAL", "stripe:0 paypal:50 wise:50", 30, "paypal:15 wise:15" },
        // Untagged money: what no provider covers is not attributed.
        { "FIFO", "stripe:100 paypal:50", 500, "stripe:100 paypal:50" },
        { "LIFO", "stripe:100", 500, "stripe:100" },
        { "PROPORTIONAL", "stripe:100 paypal:50", 500, "stripe:100 paypal:50" },
        // Zero and one source; a zero amount.
        { "FIFO", "", 100, "-" },
        { "PROPORTIONAL", "", 100, "-" },
        { "PROPORTIONAL", "stripe:0", 100, "-" },
        { "FIFO", "stripe:70", 30, "stripe:30" },
        { "PROPORTIONAL", "stripe:70", 30, "stripe:30" },
        { "PROPORTIONAL", "stripe:70", 90, "stripe:70" },
        { "FIFO", "stripe:70", 0, "-" },
    };

    [Theory]
    [MemberData(nameof(Allocations))]
    public void Allocates(string strategy, string sources, long amount, string expected)
    {
        var shares = LineageAllocation.Allocate(amount, Sources(sources), LineageAllocation.ParseStrategy(strategy));

        Assert.Equal(expected, Format(shares));
    }

    [Theory]
    [InlineData("FIFO")]
    [InlineData("LIFO")]
    [InlineData("PROPORTIONAL")]
    public void Amounts_beyond_64_bits_are_exact(string strategy)
    {
        var big = BigInteger.Pow(10, 30);
        var sources = new[] { new LineageSource("stripe", big * 2), new LineageSource("paypal", big + 1) };

        var shares = LineageAllocation.Allocate(big * 3, sources, LineageAllocation.ParseStrategy(strategy));

        var expected = strategy switch
        {
            "FIFO" => $"stripe:{big * 2} paypal:{big}",
            "LIFO" => $"paypal:{big + 1} stripe:{big * 2 - 1}",
            _ => $"stripe:{big * 3 * (big * 2) / (big * 3 + 1)} paypal:{big * 3 - big * 3 * (big * 2) / (big * 3 + 1)}",
        };
        Assert.Equal(expected, Format(shares));
    }

    [Fact]
    public void An_unknown_strategy_is_a_programmer_error()
    {
        Assert.Throws<InvariantException>(() => LineageAllocation.ParseStrategy("fifo"));
    }

    // Identity → identifier: first and last name, else organization (spaces → _), then the id's first 8
    // characters; without names, the raw id.
    public static TheoryData<string, string, string, string, string> Identifiers => new()
    {
        { "idt_4dd1c0de-0000-4000-8000-000000000000", "John", "Doe", "", "john_doe_idt_4dd1" },
        { "idt_4dd1c0de-0000-4000-8000-000000000000", "", "", "Acme Trading Co", "acme_trading_co_idt_4dd1" },
        { "idt_4dd1c0de-0000-4000-8000-000000000000", "John", "", "Acme", "acme_idt_4dd1" },
        { "idt_4dd1c0de-0000-4000-8000-000000000000", "John", "", "", "idt_4dd1c0de-0000-4000-8000-000000000000" },
        { "idt_1", "Ada", "Lovelace", "", "ada_lovelace_idt_1" },
    };

    [Theory]
    [MemberData(nameof(Identifiers))]
    public void Identity_identifier(string id, string first, string last, string organization, string expected)
    {
        var identity = new Identity
        {
            IdentityId = id, FirstName = first, LastName = last, OrganizationName = organization,
            CreatedAt = DateTime.UnixEpoch,
        };

        Assert.Equal(expected, LineageNames.IdentityIdentifier(identity));
    }

    [Fact]
    public void Indicators_and_references()
    {
        Assert.Equal("@stripe_john_doe_idt_4dd1_lineage", LineageNames.ShadowIndicator("stripe", "john_doe_idt_4dd1"));
        Assert.Equal("@john_doe_idt_4dd1_lineage", LineageNames.AggregateIndicator("john_doe_idt_4dd1"));
        Assert.Equal(["r_shadow_stripe", "r_release_stripe", "r_receive_stripe", "r_shadow_wise",
            "r_release_wise", "r_receive_wise"], LineageNames.ShadowReferences("r", ["stripe", "wise"]));
    }

    private static List<LineageSource> Sources(string text) =>
        [.. text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(part => part.Split(':'))
            .Select(pair => new LineageSource(pair[0], BigInteger.Parse(pair[1], CultureInfo.InvariantCulture)))];

    private static string Format(IReadOnlyList<LineageAllocationShare> shares) => shares.Count == 0
        ? "-"
        : string.Join(' ', shares.Select(share =>
            $"{share.Provider}:{share.Amount.ToString(CultureInfo.InvariantCulture)}"));
}
