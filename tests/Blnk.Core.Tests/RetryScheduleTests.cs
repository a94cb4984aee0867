using Blnk.Core.Delivery;

namespace Blnk.Core.Tests;

public sealed class RetryScheduleTests
{
    [Theory]
    [InlineData(1, 1_000, 300_000, 1_000)]
    [InlineData(2, 1_000, 300_000, 2_000)]
    [InlineData(3, 1_000, 300_000, 4_000)]
    [InlineData(9, 1_000, 300_000, 256_000)]
    [InlineData(10, 1_000, 300_000, 300_000)]
    [InlineData(25, 1_000, 300_000, 300_000)]
    [InlineData(1_000, 1_000, 300_000, 300_000)]
    [InlineData(0, 100, 400, 100)]
    [InlineData(3, 100, 400, 400)]
    public void The_delay_doubles_from_the_base_and_stops_at_the_cap(int failedAttempts, int baseMs, int maxMs,
        int expectedMs)
    {
        var delay = RetrySchedule.DelayAfter(failedAttempts, TimeSpan.FromMilliseconds(baseMs),
            TimeSpan.FromMilliseconds(maxMs));

        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), delay);
    }
}
