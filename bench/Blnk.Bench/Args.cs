using System.Globalization;

namespace Blnk.Bench;

/// <summary>Command-line options: <c>--name value</c>, <c>--name=value</c>, <c>--flag</c>, and bare words.</summary>
internal sealed class Args
{
    private readonly Dictionary<string, string> _named = new(StringComparer.Ordinal);
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    public List<string> Positional { get; } = [];

    public static Args Parse(IReadOnlyList<string> args)
    {
        var parsed = new Args();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                parsed.Positional.Add(arg);
                continue;
            }
            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                parsed._named[arg[2..equals]] = arg[(equals + 1)..];
            }
            else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                parsed._named[arg[2..]] = args[++i];
            }
            else
            {
                parsed._named[arg[2..]] = "true";
            }
        }
        return parsed;
    }

    public string String(string name, string fallback)
    {
        _read.Add(name);
        return _named.TryGetValue(name, out var value) ? value : fallback;
    }

    public string? Optional(string name)
    {
        _read.Add(name);
        return _named.GetValueOrDefault(name);
    }

    public double Double(string name, double fallback)
    {
        var text = Optional(name);
        if (text is null)
        {
            return fallback;
        }
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= 0
            ? value
            : throw new ArgumentException($"--{name}: '{text}' is not a non-negative number");
    }

    public int Int(string name, int fallback) => checked((int)Double(name, fallback));

    /// <summary>Options given but never asked for: typos, reported instead of silently ignored.</summary>
    public IEnumerable<string> Unread() => _named.Keys.Where(key => !_read.Contains(key));
}
