using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Blnk.Bench;

/// <summary>
/// A server process the proofs start, SIGKILL and start again themselves (bench/run.sh starts the one the workloads
/// use). Its output is appended to <c>{name}.log</c> in the proofs' directory, which run.sh keeps with the results.
/// </summary>
internal sealed class ServerUnderTest : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly string _serverDll;
    private readonly string _dataSource;
    private readonly string _directory;
    private readonly string _log;
    private Process? _process;
    private Ledger? _api;

    private ServerUnderTest(string serverDll, string dataSource, string directory, string name)
    {
        _serverDll = serverDll;
        _dataSource = dataSource;
        _directory = Path.Combine(directory, name);
        _log = Path.Combine(directory, name + ".log");
        Directory.CreateDirectory(_directory);
    }

    public Ledger Api => _api ?? throw new InvalidOperationException("the server is not running");

    public int Pid => _process?.Id ?? 0;

    public static async Task<ServerUnderTest> StartAsync(string serverDll, string dataSource, string directory,
        string name)
    {
        var server = new ServerUnderTest(serverDll, dataSource, directory, name);
        await server.StartAsync();
        return server;
    }

    /// <summary>Starts the process (again, after <see cref="Kill"/>) on a free port; waits until it is healthy.</summary>
    public async Task StartAsync()
    {
        var port = FreeLoopbackPort();
        // The server's working directory is empty (no blnk.json applies); the shell only redirects its output.
        var start = new ProcessStartInfo("/bin/sh") { WorkingDirectory = _directory, UseShellExecute = false };
        foreach (var argument in new[] { "-c", "exec dotnet \"$0\" >>\"$1\" 2>&1", _serverDll, _log })
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["BLNK_SERVER_PORT"] = port.ToString(CultureInfo.InvariantCulture);
        start.Environment["BLNK_DATA_SOURCE_DNS"] = _dataSource;
        _process = Process.Start(start) ?? throw new BenchException($"could not start {_serverDll}");
        _api?.Dispose();
        _api = new Ledger(new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}"), 1024);
        var deadline = Stopwatch.GetTimestamp() + Load.Ticks(StartTimeout);
        while ((await _api.GetAsync("/health")).Status != 200)
        {
            if (_process.HasExited || Stopwatch.GetTimestamp() > deadline)
            {
                throw new BenchException($"the server did not come up on port {port}; see {_log}");
            }
            await Task.Delay(200);
        }
    }

    /// <summary>SIGKILL: no shutdown, no flush beyond what the server had made durable.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            process.WaitForExit();
        }
    }

    public void Dispose()
    {
        Kill();
        _process?.Dispose();
        _api?.Dispose();
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)listener.LocalEndPoint!).Port;
    }
}
