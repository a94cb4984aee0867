using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace Blnk.TestSupport;

/// <summary>
/// The real server (<c>src/Blnk.Server/bin/&lt;Configuration&gt;/net10.0/Blnk.Server.dll</c>) as a child process on a
/// free loopback port, for tests that speak HTTP to it exactly as Blnk's SDKs do. Its working directory is a fresh
/// temp folder (so the default <c>./data/blnk.db</c> lands there); stdout and stderr are captured in
/// <see cref="Output"/>. The configuration (Debug or Release) is the one the test assembly itself was built in.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan s_stopTimeout = TimeSpan.FromSeconds(10);
    private static readonly ConcurrentDictionary<string, byte> s_sqliteDirectories = new(StringComparer.Ordinal);
    private const int MaxOutputChars = 4 * 1024 * 1024;
    private const int SigTerm = 15;

    private readonly string _serverDll;
    private readonly string _workingDirectory;
    private readonly Dictionary<string, string> _environment;
    private readonly StringBuilder _output = new();
    private readonly Lock _outputLock = new();
    private readonly LoopbackPortHold _port;
    private Process? _process;
    private bool _disposed;

    static ServerProcess()
    {
        // SQLite files made by NewSqliteDns live until the test process ends.
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var directory in s_sqliteDirectories.Keys)
            {
                TryDeleteDirectory(directory);
            }
        };
    }

    private ServerProcess(string serverDll, LoopbackPortHold port, string workingDirectory,
        Dictionary<string, string> environment)
    {
        _serverDll = serverDll;
        _workingDirectory = workingDirectory;
        _environment = environment;
        _port = port;
        BaseUrl = new Uri($"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}/");
        Client = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(60) };
    }

    /// <summary>The loopback port the server listens on, held across kills and <see cref="RestartAsync"/>.</summary>
    public int Port => _port.Port;

    /// <summary>The running server's process id (<c>dotnet Blnk.Server.dll</c> runs the server in that process).</summary>
    public int ProcessId => _process?.Id ?? throw new InvalidOperationException("the server is not running");

    /// <summary><c>http://127.0.0.1:PORT/</c>.</summary>
    public Uri BaseUrl { get; }

    /// <summary>A client whose <see cref="HttpClient.BaseAddress"/> is <see cref="BaseUrl"/>.</summary>
    public HttpClient Client { get; }

    /// <summary>The server's working directory (a fresh temp folder, kept across restarts).</summary>
    public string WorkingDirectory => _workingDirectory;

    /// <summary>Everything the server wrote to stdout and stderr so far, over all its runs.</summary>
    public string Output
    {
        get
        {
            lock (_outputLock)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>True while the current server process runs.</summary>
    public bool IsRunning
    {
        get
        {
            var process = _process;
            return process is not null && !process.HasExited;
        }
    }

    /// <summary>
    /// A fresh SQLite data source, <c>sqlite:/tmp/blnk-tests-&lt;guid&gt;/blnk.db</c> (the folder exists, the file
    /// does not). The folder is deleted when the test process ends.
    /// </summary>
    public static string NewSqliteDns()
    {
        var directory = Path.Combine(Path.GetTempPath(), "blnk-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        s_sqliteDirectories.TryAdd(directory, 0);
        return "sqlite:" + Path.Combine(directory, "blnk.db");
    }

    /// <summary>
    /// Starts the server with <c>BLNK_SERVER_PORT</c> (a loopback port held until dispose),
    /// <c>BLNK_DATA_SOURCE_DNS</c> and <paramref name="extraEnvironment"/> (which may replace the data source, not
    /// the port), and waits until <c>GET /health</c> answers 200. Other <c>BLNK_*</c> variables of the test process
    /// (except <c>BLNK_TEST_*</c>) are not passed on.
    /// </summary>
    /// <exception cref="InvalidOperationException">The server is not built, exited, or was not healthy in 30 s;
    /// the message holds its output.</exception>
    public static async Task<ServerProcess> StartAsync(string dataSourceDns,
        IDictionary<string, string>? extraEnvironment = null)
    {
        ArgumentNullException.ThrowIfNull(dataSourceDns);
        var serverDll = ServerDllPath();
        var workingDirectory = Path.Combine(Path.GetTempPath(), "blnk-server-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(workingDirectory);

        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["BLNK_DATA_SOURCE_DNS"] = dataSourceDns,
        };
        if (extraEnvironment is not null)
        {
            foreach (var (key, value) in extraEnvironment)
            {
                environment[key] = value;
            }
        }
        // The port is ours: BaseUrl and the health wait depend on it. Taken last, so that nothing can throw between
        // taking it and the server that releases it.
        var port = LoopbackPortHold.Take();
        environment["BLNK_SERVER_PORT"] = port.Port.ToString(CultureInfo.InvariantCulture);
        var server = new ServerProcess(serverDll, port, workingDirectory, environment);
        try
        {
            await server.LaunchAsync();
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        return server;
    }

    /// <summary>SIGKILLs the whole process tree at once (a crash), and waits for it to be gone.</summary>
    public void Kill()
    {
        var process = _process;
        if (process is null)
        {
            return;
        }
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
            process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        AppendOutput($"[ServerProcess] killed (SIGKILL) pid {process.Id.ToString(CultureInfo.InvariantCulture)}");
    }

    /// <summary>Graceful stop: SIGTERM, then up to 10 s for the server to exit, then SIGKILL.</summary>
    public async Task StopAsync()
    {
        var process = _process;
        if (process is null)
        {
            return;
        }
        if (!process.HasExited)
        {
            if (SendSignal(process.Id, SigTerm) != 0)
            {
                AppendOutput("[ServerProcess] SIGTERM failed: " + Marshal.GetLastPInvokeErrorMessage());
            }
            using var timeout = new CancellationTokenSource(s_stopTimeout);
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                AppendOutput("[ServerProcess] no exit 10 s after SIGTERM: killing");
                Kill();
                return;
            }
        }
        else
        {
            // Let the output readers reach end of file.
            await process.WaitForExitAsync();
        }
        AppendOutput($"[ServerProcess] exited with code {process.ExitCode.ToString(CultureInfo.InvariantCulture)}");
    }

    /// <summary>Stops gracefully (if still running) and starts again with the same port, environment and data.
    /// </summary>
    public async Task RestartAsync()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await StopAsync();
        await LaunchAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        try
        {
            await StopAsync();
        }
        finally
        {
            _process?.Dispose();
            _process = null;
            Client.Dispose();
            _port.Dispose();
            TryDeleteDirectory(_workingDirectory);
        }
    }

    private async Task LaunchAsync()
    {
        var previous = _process;
        _process = null;
        previous?.Dispose();

        var startInfo = new ProcessStartInfo(DotnetHost())
        {
            WorkingDirectory = _workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        startInfo.ArgumentList.Add(_serverDll);
        // The child sees only the settings this test gives it, not BLNK_* left in the test's own environment.
        foreach (var key in startInfo.Environment.Keys.ToList())
        {
            if (key.StartsWith("BLNK_", StringComparison.Ordinal) && !key.StartsWith("BLNK_TEST_", StringComparison.Ordinal))
            {
                startInfo.Environment.Remove(key);
            }
        }
        foreach (var (key, value) in _environment)
        {
            startInfo.Environment[key] = value;
        }

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                AppendOutput(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                AppendOutput(e.Data);
            }
        };
        AppendOutput($"[ServerProcess] starting dotnet {_serverDll} on {BaseUrl} in {_workingDirectory}");
        if (!process.Start())
        {
            throw new InvalidOperationException("could not start dotnet " + _serverDll);
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;

        await WaitHealthyAsync(process);
    }

    private async Task WaitHealthyAsync(Process process)
    {
        using var probe = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(2) };
        var watch = Stopwatch.StartNew();
        var lastProblem = "no answer yet";
        while (watch.Elapsed < s_startTimeout)
        {
            if (process.HasExited)
            {
                await process.WaitForExitAsync();
                throw new InvalidOperationException(
                    $"the server exited with code {process.ExitCode.ToString(CultureInfo.InvariantCulture)} " +
                    $"before GET /health answered 200. Output:\n{Output}");
            }
            try
            {
                using var response = await probe.GetAsync(new Uri("health", UriKind.Relative));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
                lastProblem = $"GET /health answered {(int)response.StatusCode}: " +
                              await response.Content.ReadAsStringAsync();
            }
            catch (HttpRequestException e)
            {
                lastProblem = e.Message;
            }
            catch (TaskCanceledException)
            {
                lastProblem = "GET /health timed out (2 s)";
            }
            await Task.Delay(100);
        }
        Kill();
        throw new InvalidOperationException(
            $"the server was not healthy within {s_startTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)}" +
            $" s ({lastProblem}). Output:\n{Output}");
    }

    private void AppendOutput(string line)
    {
        lock (_outputLock)
        {
            _output.Append(line).Append('\n');
            if (_output.Length > MaxOutputChars)
            {
                _output.Remove(0, _output.Length - (MaxOutputChars / 2));
                _output.Insert(0, "[ServerProcess] … earlier output dropped …\n");
            }
        }
    }

    /// <summary>The folder holding <c>Blnk.slnx</c>, found by walking up from the test assembly.</summary>
    public static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null;
             directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Blnk.slnx")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException("no Blnk.slnx above " + AppContext.BaseDirectory);
    }

    /// <summary>Debug or Release: the folder after <c>bin</c> in the test assembly's path.</summary>
    public static string BuildConfiguration()
    {
        var parts = AppContext.BaseDirectory.Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        for (var i = parts.Length - 2; i >= 0; i--)
        {
            if (string.Equals(parts[i], "bin", StringComparison.Ordinal))
            {
                return parts[i + 1];
            }
        }
        return typeof(ServerProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration
               ?? "Debug";
    }

    private static string ServerDllPath()
    {
        var configuration = BuildConfiguration();
        var dll = Path.Combine(RepositoryRoot(), "src", "Blnk.Server", "bin", configuration, "net10.0",
            "Blnk.Server.dll");
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException(
                $"{dll} does not exist: build the server first (dotnet build src/Blnk.Server -c {configuration}).");
        }
        return dll;
    }

    /// <summary>The dotnet host running these tests (so the child uses the same runtime), else <c>dotnet</c>.</summary>
    private static string DotnetHost()
    {
        var hostPath = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(hostPath) && File.Exists(hostPath))
        {
            return hostPath;
        }
        var processPath = Environment.ProcessPath;
        if (processPath is not null &&
            string.Equals(Path.GetFileNameWithoutExtension(processPath), "dotnet", StringComparison.Ordinal))
        {
            return processPath;
        }
        return "dotnet";
    }

    private static void TryDeleteDirectory(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);
}
