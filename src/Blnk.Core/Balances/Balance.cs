namespace Blnk.Core.Balances;

/// <summary>
/// A balance row. Its money lives in <see cref="Amounts"/>; <see cref="Version"/> counts the
/// transactions that changed it.
/// </summary>
public sealed class Balance
{
    public const string DefaultAllocationStrategy = "FIFO";

    public required string BalanceId { get; init; }
    public required string LedgerId { get; init; }
    public required string Currency { get; init; }
    public string? Indicator { get; init; }
    public string? IdentityId { get; init; }
    public required DateTime CreatedAt { get; init; }
    public string? MetaDataJson { get; init; }
    public bool TrackFundLineage { get; init; }
    public string AllocationStrategy { get; init; } = DefaultAllocationStrategy;
    public long Version { get; set; }
    public BalanceAmounts Amounts { get; init; } = BalanceAmounts.Zero();
}
