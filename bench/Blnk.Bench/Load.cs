using System.Diagnostics;
using System.Globalization;

namespace Blnk.Bench;

/// <summary>
/// An acknowledged (201) transfer: what verification looks up afterwards. For an inflight pair (W7) the reference is
/// the hold's, with the hold's id and the reference the server gave its commit.
/// </summary>
internal readonly record struct Ack(long Sequence, string Reference, int Source, int Destination, long Cents,
    string? HoldId = null, string? CommitReference = null);

/// <summary>Counters one stream of requests shares across its workers; read live by the progress line.</summary>
internal sealed class Tally
{
    private const int SamplesMax = 5;
    private long _ok;
    private long _failed;
    private readonly List<string> _samples = [];

    public long Ok => Volatile.Read(ref _ok);
    public long Failed => Volatile.Read(ref _failed);

    public void Succeeded() => Interlocked.Increment(ref _ok);

    /// <summary>Counts <paramref name="count"/> units at once (W4: the lines of one bulk request).</summary>
    public void Succeeded(long count) => Interlocked.Add(ref _ok, count);

    /// <summary>Counts a refused or lost request and keeps the first few exactly as sent and answered.</summary>
    public void Fail(string request, Reply reply)
    {
        Interlocked.Increment(ref _failed);
        lock (_samples)
        {
            if (_samples.Count < SamplesMax)
            {
                _samples.Add($"{request} -> {(reply.Status == 0 ? "no response" : reply.Status.ToString(CultureInfo.InvariantCulture))}: {reply.Text}");
            }
        }
    }

    public IReadOnlyList<string> Samples
    {
        get
        {
            lock (_samples)
            {
                return [.. _samples];
            }
        }
    }
}

/// <summary>
/// Latencies of the measured window and how many requests succeeded in it; for a closed loop also the requests
/// still in flight when the window closed (answered after it, not counted), and the slowest of them.
/// </summary>
internal sealed class Timing(List<long> latencies, long windowOk, double windowSeconds, long late = 0,
    long lateMaxTicks = 0)
{
    public long WindowOk { get; } = windowOk;
    public long Late { get; } = late;
    public double LateMaxMs { get; } = lateMaxTicks * 1000.0 / Stopwatch.Frequency;
    public double WindowSeconds { get; } = windowSeconds;
    public double Rate => WindowSeconds > 0 ? WindowOk / WindowSeconds : 0;
    public int Count => latencies.Count;

    /// <summary>Exact percentile (nearest rank) over the full sample, in milliseconds.</summary>
    public double PercentileMs(double percentile)
    {
        if (latencies.Count == 0)
        {
            return double.NaN;
        }
        if (!_sorted)
        {
            latencies.Sort();
            _sorted = true;
        }
        var rank = (int)Math.Ceiling(percentile / 100 * latencies.Count) - 1;
        return latencies[Math.Clamp(rank, 0, latencies.Count - 1)] * 1000.0 / Stopwatch.Frequency;
    }

    private bool _sorted;
}

/// <summary>The two load shapes: closed loop (N workers, each waits for its answer) and open loop (fixed rate).</summary>
internal static class Load
{
    /// <summary>
    /// <paramref name="concurrency"/> workers call <paramref name="operation"/> back to back for warm-up plus
    /// duration. Requests completing inside the measured window count towards throughput and latency; every
    /// request (warm-up too) is counted by the operation itself for verification.
    /// </summary>
    public static async Task<Timing> ClosedLoopAsync(int concurrency, TimeSpan warmup, TimeSpan duration,
        Func<Task<bool>> operation)
    {
        var start = Stopwatch.GetTimestamp();
        var windowStart = start + Ticks(warmup);
        var windowEnd = windowStart + Ticks(duration);
        var perWorker = new List<long>[concurrency];
        var okPerWorker = new long[concurrency];
        var latePerWorker = new long[concurrency];
        var lateMaxPerWorker = new long[concurrency];
        var workers = Enumerable.Range(0, concurrency).Select(worker => Task.Run(async () =>
        {
            var latencies = perWorker[worker] = new List<long>(1 << 12);
            while (true)
            {
                var begin = Stopwatch.GetTimestamp();
                if (begin >= windowEnd)
                {
                    return;
                }
                var ok = await operation();
                var end = Stopwatch.GetTimestamp();
                if (end >= windowStart && end < windowEnd)
                {
                    latencies.Add(end - begin);
                    if (ok)
                    {
                        okPerWorker[worker]++;
                    }
                }
                else if (end >= windowEnd)
                {
                    latePerWorker[worker]++;
                    lateMaxPerWorker[worker] = Math.Max(lateMaxPerWorker[worker], end - begin);
                }
            }
        })).ToArray();
        await Task.WhenAll(workers);
        var all = new List<long>(perWorker.Sum(list => list.Count));
        foreach (var list in perWorker)
        {
            all.AddRange(list);
        }
        return new Timing(all, okPerWorker.Sum(), duration.TotalSeconds, latePerWorker.Sum(),
            lateMaxPerWorker.Max());
    }

    /// <summary>
    /// Starts <paramref name="operation"/> at a fixed <paramref name="rate"/> whatever the answers take (at most
    /// <paramref name="maxInFlight"/> outstanding), for <paramref name="count"/> requests or warm-up plus
    /// duration. A request's latency runs from when it was due, so a server (or generator) that falls behind
    /// shows it in the percentiles instead of hiding it (no coordinated omission).
    /// </summary>
    public static async Task<Timing> OpenLoopAsync(double rate, long count, TimeSpan warmup, TimeSpan duration,
        int maxInFlight, Func<Task<bool>> operation)
    {
        var total = count != long.MaxValue ? count : (long)Math.Ceiling(rate * (warmup + duration).TotalSeconds);
        var latencies = new long[total];
        var succeeded = new bool[total];
        var gate = new SemaphoreSlim(maxInFlight, maxInFlight);
        var interval = Stopwatch.Frequency / rate;
        var start = Stopwatch.GetTimestamp();
        var windowStart = start + Ticks(warmup);
        long lastEnd = start;
        for (long i = 0; i < total; i++)
        {
            var due = start + (long)(i * interval);
            var wait = due - Stopwatch.GetTimestamp();
            if (wait > Stopwatch.Frequency / 1000)
            {
                await Task.Delay(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency));
            }
            await gate.WaitAsync();
            var index = i;
            _ = Task.Run(async () =>
            {
                try
                {
                    var begin = Math.Min(due, Stopwatch.GetTimestamp());
                    succeeded[index] = await operation();
                    var end = Stopwatch.GetTimestamp();
                    latencies[index] = end - begin;
                    InterlockedMax(ref lastEnd, end);
                }
                finally
                {
                    gate.Release();
                }
            });
        }
        for (var i = 0; i < maxInFlight; i++)
        {
            await gate.WaitAsync();
        }
        var first = (long)Math.Ceiling((windowStart - start) / interval);
        var window = new List<long>((int)(total - first));
        long windowOk = 0;
        for (var i = first; i < total; i++)
        {
            window.Add(latencies[i]);
            windowOk += succeeded[i] ? 1 : 0;
        }
        // The window closes when its last request has been answered, not when the last one was sent.
        var seconds = Math.Max(count != long.MaxValue ? 0 : duration.TotalSeconds,
            (double)(Volatile.Read(ref lastEnd) - windowStart) / Stopwatch.Frequency);
        return new Timing(window, windowOk, seconds);
    }

    public static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    private static void InterlockedMax(ref long target, long value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }
            current = seen;
        }
    }
}

/// <summary>Prints one progress line a second (overwritten in place on a terminal) until disposed.</summary>
internal sealed class ProgressLine : IAsyncDisposable
{
    private static readonly bool Interactive = !Console.IsOutputRedirected;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _width;

    public ProgressLine(string label, Func<double, string> status)
    {
        var start = Stopwatch.GetTimestamp();
        _loop = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
            try
            {
                while (await timer.WaitForNextTickAsync(_stop.Token))
                {
                    var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
                    Write(string.Create(CultureInfo.InvariantCulture, $"[{label}] {elapsed,5:F1}s  {status(elapsed)}"));
                }
            }
            catch (OperationCanceledException)
            {
            }
        });
    }

    /// <summary>"12,345 ok  0 failed  1,760/s" for a tally, the rate over the last second.</summary>
    public static Func<double, string> Rate(Tally tally, string name = "")
    {
        long lastOk = 0;
        double lastAt = 0;
        return elapsed =>
        {
            var ok = tally.Ok;
            var rate = elapsed > lastAt ? (ok - lastOk) / (elapsed - lastAt) : 0;
            (lastOk, lastAt) = (ok, elapsed);
            return string.Create(CultureInfo.InvariantCulture,
                $"{name}{ok,9:N0} ok  {tally.Failed:N0} failed  {rate,7:N0}/s");
        };
    }

    private void Write(string line)
    {
        if (Interactive)
        {
            Console.Write("\r" + line.PadRight(_width));
            _width = line.Length;
        }
        else
        {
            Console.WriteLine(line);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
        if (Interactive && _width > 0)
        {
            Console.WriteLine();
        }
    }
}
