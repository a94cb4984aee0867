using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Blnk.Server.Writer;

/// <summary>
/// The writer's batches as <see cref="System.Diagnostics.Metrics"/> instruments (meter <c>Blnk.Writer</c>), so an
/// operator can watch them with <c>dotnet-counters monitor --counters Blnk.Writer</c> and tuning starts from a
/// measurement: how many units a batch takes, and where its time goes (reading under the locks, deciding in
/// memory, writing, committing). On PostgreSQL the writes are only staged in the write phase and sent with the
/// commit, so their time shows in the commit phase.
/// </summary>
public sealed class WriterMetrics : IDisposable
{
    public const string MeterName = "Blnk.Writer";

    private readonly Meter _meter;
    private readonly Histogram<int> _units;
    private readonly Histogram<double> _duration;

    public WriterMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        _units = _meter.CreateHistogram<int>("blnk.writer.batch.units", "{unit}", "Write units applied by one batch");
        _duration = _meter.CreateHistogram<double>("blnk.writer.batch.phase.duration", "ms",
            "Time a batch spends in one phase: read, decide, write or commit");
    }

    public void RecordUnits(int units) => _units.Record(units);

    /// <summary>Records the time since <paramref name="startedAt"/> for a phase and returns the current time.</summary>
    public long RecordPhase(string phase, long startedAt)
    {
        var now = Stopwatch.GetTimestamp();
        if (_duration.Enabled)
        {
            _duration.Record(Stopwatch.GetElapsedTime(startedAt, now).TotalMilliseconds,
                new KeyValuePair<string, object?>("phase", phase));
        }
        return now;
    }

    public void Dispose() => _meter.Dispose();
}
