namespace Blnk.Core.Delivery;

/// <summary>When a failed webhook or hook delivery is tried again: the delay doubles from a base and is capped.</summary>
public static class RetrySchedule
{
    /// <summary>The wait after <paramref name="failedAttempts"/> failures (1 after the first): base × 2^(n−1), at most the cap.</summary>
    public static TimeSpan DelayAfter(int failedAttempts, TimeSpan baseDelay, TimeSpan maxDelay)
    {
        var doublings = Math.Clamp(failedAttempts - 1, 0, 62);
        var delay = baseDelay.Ticks * Math.Pow(2, doublings);
        return delay >= maxDelay.Ticks ? maxDelay : TimeSpan.FromTicks((long)delay);
    }
}
