using System.Numerics;

namespace Blnk.Core.Monitors;

/// <summary>When a monitor fires: on every change that meets the condition, or only when it starts to hold.</summary>
public static class MonitorTrigger
{
    public const string Level = "level";
    public const string Edge = "edge";
}

/// <summary>
/// The condition of a monitor: <c>field operator value</c>, compared in minor units
/// (<see cref="PreciseValue"/> = value × precision, converted like a transaction amount).
/// </summary>
public sealed record MonitorCondition(string Field, string Operator, double Value, double Precision,
    BigInteger PreciseValue);

/// <summary>A balance monitor (contract §4.4, decision 10).</summary>
public sealed record BalanceMonitor
{
    public required string MonitorId { get; init; }
    public required string BalanceId { get; init; }
    public required MonitorCondition Condition { get; init; }
    public string Description { get; init; } = "";
    public string CallBackUrl { get; init; } = "";
    public string Trigger { get; init; } = MonitorTrigger.Level;
    public required DateTime CreatedAt { get; init; }
}
