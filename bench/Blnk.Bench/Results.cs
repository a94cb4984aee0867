using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Blnk.Bench;

/// <summary>One workload on one storage: the headline numbers, its verification, and named extra metrics.</summary>
internal sealed class WorkloadResult
{
    public required string Workload { get; init; }
    public required string Title { get; init; }
    public required string Storage { get; init; }

    /// <summary>
    /// Acknowledged transfers per second (W4: lines of applied bulk requests; W5: writes; W6: applied per second
    /// from the first send; W7: committed hold-then-commit pairs).
    /// </summary>
    public double Throughput { get; set; }

    /// <summary>
    /// Latency percentiles of the workload's main request (W4: per bulk request; W5: the reads; W6: the accepts;
    /// W7: per pair, hold and commit).
    /// </summary>
    public double P50Ms { get; set; } = double.NaN;

    public double P99Ms { get; set; } = double.NaN;
    public long Ok { get; set; }

    /// <summary>Requests answered with anything but the expected status, or not answered at all.</summary>
    public long Failures { get; set; }

    public bool Verified { get; set; }
    public string Verification { get; set; } = "not run";
    public SortedDictionary<string, double> Metrics { get; } = new(StringComparer.Ordinal);
    public List<string> FailureSamples { get; } = [];

    public void Write(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteString("workload", Workload);
        json.WriteString("title", Title);
        json.WriteString("storage", Storage);
        WriteNumber(json, "throughput_per_s", Throughput);
        WriteNumber(json, "p50_ms", P50Ms);
        WriteNumber(json, "p99_ms", P99Ms);
        json.WriteNumber("ok", Ok);
        json.WriteNumber("failures", Failures);
        json.WriteBoolean("verified", Verified);
        json.WriteString("verification", Verification);
        json.WriteStartObject("metrics");
        foreach (var (name, value) in Metrics)
        {
            WriteNumber(json, name, value);
        }
        json.WriteEndObject();
        json.WriteStartArray("failure_samples");
        foreach (var sample in FailureSamples)
        {
            json.WriteStringValue(sample);
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    public static WorkloadResult Read(JsonElement element)
    {
        var result = new WorkloadResult
        {
            Workload = element.GetProperty("workload").GetString()!,
            Title = element.GetProperty("title").GetString()!,
            Storage = element.GetProperty("storage").GetString()!,
            Throughput = ReadNumber(element, "throughput_per_s"),
            P50Ms = ReadNumber(element, "p50_ms"),
            P99Ms = ReadNumber(element, "p99_ms"),
            Ok = element.GetProperty("ok").GetInt64(),
            Failures = element.GetProperty("failures").GetInt64(),
            Verified = element.GetProperty("verified").GetBoolean(),
            Verification = element.GetProperty("verification").GetString()!,
        };
        foreach (var metric in element.GetProperty("metrics").EnumerateObject())
        {
            result.Metrics[metric.Name] = metric.Value.ValueKind == JsonValueKind.Number ? metric.Value.GetDouble() : double.NaN;
        }
        foreach (var sample in element.GetProperty("failure_samples").EnumerateArray())
        {
            result.FailureSamples.Add(sample.GetString()!);
        }
        return result;
    }

    public double Metric(string name) => Metrics.TryGetValue(name, out var value) ? value : double.NaN;

    /// <summary>NaN and infinities have no JSON form: written as null.</summary>
    public static void WriteNumber(Utf8JsonWriter json, string name, double value)
    {
        if (double.IsFinite(value))
        {
            json.WriteNumber(name, Math.Round(value, 4));
        }
        else
        {
            json.WriteNull(name);
        }
    }

    private static double ReadNumber(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number
            ? value.GetDouble()
            : double.NaN;
}

/// <summary>The table, the goals of WORKLOADS.md, and the chart's data file.</summary>
internal static class ResultTable
{
    /// <summary>Goal check for a row, against its storage's W2 and the pgbench baseline; null when there is no goal.</summary>
    public static string Goal(WorkloadResult row, IReadOnlyList<WorkloadResult> all, double pgbenchTps)
    {
        var w2 = all.FirstOrDefault(other => other.Storage == row.Storage && other.Workload == "W2")?.Throughput
                 ?? double.NaN;
        var misses = new List<string>();
        void Need(bool met, string what)
        {
            if (!met)
            {
                misses.Add(what);
            }
        }
        switch (row.Workload)
        {
            case "W1":
                Need(row.P50Ms <= 1.5, "p50≤1.5ms");
                Need(row.P99Ms <= 5, "p99≤5ms");
                break;
            case "W2":
                Need(row.Throughput >= 10 * pgbenchTps, "≥10×pgbench");
                Need(row.Failures == 0, "0 failed");
                break;
            case "W3-debit" or "W3-credit":
                Need(row.Throughput >= 0.8 * w2, "≥0.8×W2");
                break;
            case "W4":
                Need(row.Throughput >= 20_000, "≥20k lines/s");
                Need(row.P50Ms <= 50, "p50≤50ms");
                break;
            case "W5":
                Need(row.P99Ms <= 5, "read p99≤5ms");
                Need(row.Metric("write_loss") <= 0.2, "write loss≤20%");
                break;
            case "W6":
                Need(row.P99Ms <= 10, "accept p99≤10ms");
                Need(row.Throughput >= w2, "applied≥W2 rate");
                break;
            case "W7":
                Need(row.Throughput >= 0.5 * w2, "≥0.5×W2");
                break;
            default:
                return "-";
        }
        return misses.Count == 0 ? "met" : "missed: " + string.Join(", ", misses);
    }

    public static string Render(IReadOnlyList<WorkloadResult> rows, double pgbenchTps)
    {
        string[] header = ["workload", "storage", "throughput/s", "p50 ms", "p99 ms", "failed", "×pgbench", "goal",
            "verification"];
        var lines = rows.Select(row => new[]
        {
            row.Workload, row.Storage, Format(row.Throughput, "N0"), Format(row.P50Ms, "F2"), Format(row.P99Ms, "F2"),
            row.Failures.ToString("N0", CultureInfo.InvariantCulture),
            double.IsFinite(pgbenchTps) && pgbenchTps > 0 && row.Workload.StartsWith('W')
                ? Format(row.Throughput / pgbenchTps, "F1")
                : "-",
            Goal(row, rows, pgbenchTps), row.Verified ? "ok" : "FAILED",
        }).ToList();
        var widths = header.Select((title, column) => Math.Max(title.Length, lines.Select(line => line[column].Length)
            .DefaultIfEmpty(0).Max())).ToArray();
        var text = new StringBuilder();
        void Line(string[] cells) => text.AppendLine(string.Join("  ", cells.Select((cell, column) =>
            column is >= 2 and <= 6 ? cell.PadLeft(widths[column]) : cell.PadRight(widths[column]))).TrimEnd());
        Line(header);
        Line([.. widths.Select(width => new string('-', width))]);
        lines.ForEach(Line);
        text.AppendLine();
        foreach (var row in rows)
        {
            text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"{row.Workload} {row.Storage}: {Details(row)}"));
            text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"    verification: {row.Verification}"));
            foreach (var sample in row.FailureSamples)
            {
                text.AppendLine("    failed request: " + sample);
            }
        }
        return text.ToString();
    }

    private static string Details(WorkloadResult row)
    {
        var parts = new List<string>();
        void Add(string format, string metric, double scale = 1)
        {
            var value = row.Metric(metric);
            if (double.IsFinite(value))
            {
                parts.Add(string.Format(CultureInfo.InvariantCulture, format, value * scale));
            }
        }
        Add("{0:N0} ok", "ok_total");
        Add("{0:N1} requests/s", "requests_per_s");
        Add("{0:N0} lines each", "lines_per_request");
        Add("{0:N0} in flight", "requests_in_flight");
        Add("{0:N0} holds failed", "hold_failures");
        Add("{0:N0} commits failed", "commit_failures");
        Add("read p50 {0:F2} ms", "read_p50_ms");
        Add("read p99 {0:F2} ms", "read_p99_ms");
        Add("reads {0:N0}/s", "read_rate");
        Add("write target {0:N0}/s", "write_target_rate");
        Add("write p99 {0:F2} ms", "write_p99_ms");
        Add("write loss {0:F1}%", "write_loss", 100);
        Add("accepted {0:N0}/s", "accept_rate");
        Add("backlog at end of accepts ≈{0:N0}", "backlog_at_accept_end");
        Add("drained {0:F1} s after the last accept", "drain_after_accept_s");
        Add("backlog drained at {0:N0}/s", "backlog_drain_rate");
        // Shown when the window's own answers are fewer than those still in flight at its end: its rate and
        // percentiles then miss most of what happened (they stay in the JSON either way).
        if (row.Metric("answered_after_window") is > 0 and var late && late > row.Ok &&
            row.Metric("slowest_after_window_ms") is var slowest)
        {
            parts.Add(string.Format(CultureInfo.InvariantCulture,
                "{0:N0} still in flight when the window closed (slowest answered after {1:N0} ms)", late, slowest));
        }
        Add("{0:N0} refused for funds", "refused_insufficient_funds");
        Add("{0:N0} duplicate references refused", "refused_duplicate_reference");
        Add("{0:N0} unknown balances refused", "refused_unknown_balance");
        Add("restarted in {0:F1} s", "restart_s");
        Add("queue drained {0:F1} s after the restart", "queued_drained_after_restart_s");
        Add("generator CPU {0:F2} cores", "generator_cpu_cores");
        Add("server CPU {0:F2} cores", "server_cpu_cores");
        Add("machine busy {0:F0}%", "machine_busy", 100);
        Add("server RSS {0:N0} MiB", "server_rss_mb");
        return string.Join(", ", parts);
    }

    private static string Format(double value, string format) =>
        double.IsFinite(value) ? value.ToString(format, CultureInfo.InvariantCulture) : "-";

    /// <summary>gnuplot data: one row per workload (not the proofs), one throughput column per storage.</summary>
    public static string ChartData(IReadOnlyList<WorkloadResult> all)
    {
        var rows = all.Where(row => row.Workload.StartsWith('W')).ToList();
        var storages = rows.Select(row => row.Storage).Distinct().ToList();
        var text = new StringBuilder("workload " + string.Join(' ', storages.Select(storage => $"\"{storage}\"")) + "\n");
        foreach (var workload in rows.Select(row => row.Workload).Distinct())
        {
            text.Append(workload);
            foreach (var storage in storages)
            {
                var value = rows.FirstOrDefault(row => row.Workload == workload && row.Storage == storage)?.Throughput;
                text.Append(' ').Append(value is { } v && double.IsFinite(v)
                    ? v.ToString("F0", CultureInfo.InvariantCulture)
                    : "NaN");
            }
            text.Append('\n');
        }
        return text.ToString();
    }
}
