using System.Diagnostics;
using System.Globalization;

namespace Blnk.Bench;

/// <summary>
/// CPU used over an interval, in cores (CPU seconds per wall second): the load generator's own
/// (<see cref="Process.TotalProcessorTime"/>), the server's (/proc/PID/stat) and the machine's (/proc/stat).
/// </summary>
internal sealed class CpuMeter
{
    private const double ClockTicksPerSecond = 100; // USER_HZ on Linux
    private readonly int? _serverPid;
    private readonly long _start = Stopwatch.GetTimestamp();
    private readonly TimeSpan _self = SelfCpu();
    private readonly double? _server;
    private readonly (double Busy, double Total)? _machine = MachineTicks();

    public CpuMeter(int? serverPid)
    {
        _serverPid = serverPid;
        _server = ServerCpuSeconds(serverPid);
    }

    public (double Generator, double? Server, double? MachineBusy) Stop()
    {
        var wall = Stopwatch.GetElapsedTime(_start).TotalSeconds;
        var generator = (SelfCpu() - _self).TotalSeconds / wall;
        var server = ServerCpuSeconds(_serverPid) is { } now && _server is { } then ? (now - then) / wall : (double?)null;
        var machine = MachineTicks() is { } end && _machine is { } begin && end.Total > begin.Total
            ? (end.Busy - begin.Busy) / (end.Total - begin.Total)
            : (double?)null;
        return (generator, server, machine);
    }

    /// <summary>The server's resident set size in MiB, from /proc/PID/status.</summary>
    public static double? ServerRssMb(int? pid)
    {
        try
        {
            var line = pid is null ? null : File.ReadLines($"/proc/{pid}/status")
                .FirstOrDefault(text => text.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is null ? null : double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1],
                CultureInfo.InvariantCulture) / 1024;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static TimeSpan SelfCpu()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }

    private static double? ServerCpuSeconds(int? pid)
    {
        try
        {
            if (pid is null)
            {
                return null;
            }
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after "(comm)": state is field 3, utime field 14, stime field 15.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (double.Parse(fields[11], CultureInfo.InvariantCulture) +
                    double.Parse(fields[12], CultureInfo.InvariantCulture)) / ClockTicksPerSecond;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static (double Busy, double Total)? MachineTicks()
    {
        try
        {
            var fields = File.ReadLines("/proc/stat").First()
                .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..]
                .Select(field => double.Parse(field, CultureInfo.InvariantCulture)).ToArray();
            var total = fields.Take(8).Sum(); // user nice system idle iowait irq softirq steal
            return (total - fields[3] - fields[4], total);
        }
        catch (IOException)
        {
            return null;
        }
    }
}
