using System.Numerics;

namespace Blnk.Core.Lineage;

/// <summary>How a tracked balance's debits are attributed to the providers of its money (contract §7).</summary>
public enum AllocationStrategy
{
    /// <summary>Oldest provider first (mapping <c>created_at</c> ascending).</summary>
    Fifo,

    /// <summary>Newest provider first (mapping <c>created_at</c> descending).</summary>
    Lifo,

    /// <summary>Every provider in proportion to what it still has.</summary>
    Proportional,
}

/// <summary>A provider's money a debit may be attributed to: what its shadow balance still has.</summary>
public readonly record struct LineageSource(string Provider, BigInteger Available);

/// <summary>The part of a debit attributed to one provider, in minor units (always positive).</summary>
public readonly record struct LineageAllocationShare(string Provider, BigInteger Amount);

/// <summary>
/// Splits a debit over a balance's provider sources. Pure and exact: the shares are positive, no source gives
/// more than it has, and together they are <c>min(amount, Σ available)</c>; what is left is untagged money and
/// is not attributed to anyone.
/// </summary>
public static class LineageAllocation
{
    /// <summary>The wire names of the strategies (balance <c>allocation_strategy</c>).</summary>
    public static AllocationStrategy ParseStrategy(string name) => name switch
    {
        "FIFO" => AllocationStrategy.Fifo,
        "LIFO" => AllocationStrategy.Lifo,
        "PROPORTIONAL" => AllocationStrategy.Proportional,
        _ => throw new InvariantException($"unknown allocation strategy '{name}' (balances are validated on create)"),
    };

    /// <summary>
    /// Allocates <paramref name="amount"/> over <paramref name="sources"/>, which are in mapping creation order
    /// (oldest first). Sources with nothing available take no part.
    /// </summary>
    public static IReadOnlyList<LineageAllocationShare> Allocate(BigInteger amount,
        IReadOnlyList<LineageSource> sources, AllocationStrategy strategy)
    {
        Invariant.Assert(amount.Sign >= 0);
        var funded = sources.Where(source => source.Available.Sign > 0).ToList();
        var shares = strategy switch
        {
            AllocationStrategy.Fifo => InOrder(amount, funded),
            AllocationStrategy.Lifo => InOrder(amount, [.. Enumerable.Reverse(funded)]),
            AllocationStrategy.Proportional => Proportionally(amount, funded),
            _ => throw new InvariantException($"unknown allocation strategy {strategy}"),
        };
        var total = shares.Aggregate(BigInteger.Zero, (sum, share) => sum + share.Amount);
        var available = funded.Aggregate(BigInteger.Zero, (sum, source) => sum + source.Available);
        Invariant.Assert(total == BigInteger.Min(amount, available));
        Invariant.Assert(shares.All(share => share.Amount.Sign > 0));
        return shares;
    }

    /// <summary>FIFO / LIFO: each source in turn gives what it has until the amount is covered.</summary>
    private static List<LineageAllocationShare> InOrder(BigInteger amount, List<LineageSource> sources)
    {
        var shares = new List<LineageAllocationShare>();
        var remaining = amount;
        foreach (var source in sources)
        {
            if (remaining.IsZero)
            {
                break;
            }
            var share = BigInteger.Min(remaining, source.Available);
            shares.Add(new LineageAllocationShare(source.Provider, share));
            remaining -= share;
        }
        return shares;
    }

    /// <summary>
    /// Each source but the last gives <c>target × available / total</c> rounded down, the last the remainder,
    /// where <c>target = min(amount, total)</c>. Rounding can leave the last source a remainder above what it
    /// has; that excess is taken from the earlier sources in order, so attributable money is never left
    /// unattributed (Blnk caps the last share and drops the excess).
    /// </summary>
    private static List<LineageAllocationShare> Proportionally(BigInteger amount, List<LineageSource> sources)
    {
        var total = sources.Aggregate(BigInteger.Zero, (sum, source) => sum + source.Available);
        var target = BigInteger.Min(amount, total);
        var amounts = new BigInteger[sources.Count];
        var given = BigInteger.Zero;
        for (var i = 0; i < sources.Count - 1; i++)
        {
            amounts[i] = target * sources[i].Available / total;
            given += amounts[i];
        }
        if (sources.Count > 0)
        {
            amounts[^1] = BigInteger.Min(target - given, sources[^1].Available);
            given += amounts[^1];
        }
        for (var i = 0; i < sources.Count && given < target; i++)
        {
            var extra = BigInteger.Min(target - given, sources[i].Available - amounts[i]);
            amounts[i] += extra;
            given += extra;
        }
        return [.. sources.Select((source, i) => new LineageAllocationShare(source.Provider, amounts[i]))
            .Where(share => share.Amount.Sign > 0)];
    }
}
