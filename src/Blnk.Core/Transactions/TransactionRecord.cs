using System.Numerics;

namespace Blnk.Core.Transactions;

/// <summary>
/// One row of the append-only transaction log. A state change is a new row whose
/// <see cref="ParentTransaction"/> names the row it follows from; only meta_data ever changes in place.
/// </summary>
public sealed record TransactionRecord
{
    public required string TransactionId { get; init; }
    public string ParentTransaction { get; init; } = "";
    public required string Source { get; init; }
    public required string Destination { get; init; }
    public required string Reference { get; init; }
    public required string Currency { get; init; }
    public string Description { get; init; } = "";
    public required string Status { get; init; }
    public required string Hash { get; init; }
    public required BigInteger PreciseAmount { get; init; }
    public required BigInteger Precision { get; init; }
    public double OverdraftLimit { get; init; }
    public bool AllowOverdraft { get; init; }
    public bool Inflight { get; init; }
    public bool SkipQueue { get; init; }
    public bool Atomic { get; init; }
    public required DateTime CreatedAt { get; init; }
    public DateTime? EffectiveDate { get; init; }
    public DateTime? ScheduledFor { get; init; }
    public DateTime? InflightExpiryDate { get; init; }
    public DateTime? InflightCommitDate { get; init; }
    public string? MetaDataJson { get; init; }
}
