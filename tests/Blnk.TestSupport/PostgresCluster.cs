using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Blnk.Storage.Postgres;
using Npgsql;

namespace Blnk.TestSupport;

/// <summary>
/// A real, throwaway PostgreSQL server for tests: one per test process, started on first use.
/// </summary>
/// <remarks>
/// When <c>BLNK_TEST_POSTGRES_URL</c> names an existing server (an admin URL such as
/// <c>postgres://postgres@127.0.0.1:5433/postgres?sslmode=disable</c>), databases are created there.
/// Otherwise a private cluster is initialised in a temporary directory (trust authentication, listening
/// on 127.0.0.1 only), and stopped and deleted when the process exits. initdb and postgres refuse to run
/// as root, so under root they run as the <c>postgres</c> OS user. Missing binaries are an error, never
/// a reason to skip: a test that needs PostgreSQL must fail loudly without it.
/// </remarks>
public sealed partial class PostgresCluster
{
    public const string UrlEnvironmentVariable = "BLNK_TEST_POSTGRES_URL";

    private const string SuperUser = "postgres";
    private const int StartAttempts = 5;
    private static readonly TimeSpan _commandTimeout = TimeSpan.FromMinutes(2);
    private static readonly Lazy<Task<PostgresCluster>> _shared =
        new(() => Task.Run(StartSharedAsync), LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly NpgsqlDataSource _admin;
    private readonly Func<string, string> _databaseUrl;

    private PostgresCluster(NpgsqlDataSource admin, Func<string, string> databaseUrl)
    {
        _admin = admin;
        _databaseUrl = databaseUrl;
    }

    /// <summary>The one cluster of this test process; started lazily, safe to call from any thread.</summary>
    public static Task<PostgresCluster> SharedAsync() => _shared.Value;

    /// <summary>
    /// Creates a new empty database and returns its URL,
    /// <c>postgres://USER@127.0.0.1:PORT/DBNAME?sslmode=disable</c>. The name is always unique and
    /// lowercase: <paramref name="name"/>, when given, is a readable prefix (letters, digits and
    /// underscores are kept) followed by a random suffix. With <paramref name="icuLocale"/> (e.g. <c>en-US</c>) the
    /// database's default collation is that language's, as on most production clusters; otherwise it is the
    /// cluster's.
    /// </summary>
    public async Task<string> CreateDatabaseAsync(string? name = null, string? icuLocale = null)
    {
        var database = UniqueDatabaseName(name);
        var collation = icuLocale is null ? "" : $" LOCALE_PROVIDER icu ICU_LOCALE '{icuLocale}' LOCALE 'C'";
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                // template0 never has connections, so concurrent creations cannot trip over each other.
                await using var command = _admin.CreateCommand(
                    $"CREATE DATABASE \"{database}\" TEMPLATE template0 ENCODING 'UTF8'{collation}");
                await command.ExecuteNonQueryAsync();
                return _databaseUrl(database);
            }
            catch (PostgresException exception) when (attempt < 5 && exception.SqlState == PostgresErrorCodes.ObjectInUse)
            {
                await Task.Delay(100 * attempt);
            }
        }
    }

    /// <summary>
    /// Creates a new empty database owned by a new role that PostgreSQL lets hold at most
    /// <paramref name="connectionLimit"/> connections to it, and returns its URL with that role's credentials.
    /// (Superusers are exempt from connection limits, so the role is not one.)
    /// </summary>
    public async Task<string> CreateConnectionLimitedDatabaseAsync(int connectionLimit)
    {
        var url = await CreateDatabaseAsync("limited");
        var database = new Uri(url).AbsolutePath.TrimStart('/');
        var (role, password) = (database + "_owner", Guid.NewGuid().ToString("N"));
        foreach (var sql in new[]
        {
            $"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'",
            $"ALTER DATABASE \"{database}\" OWNER TO \"{role}\"",
            $"ALTER DATABASE \"{database}\" CONNECTION LIMIT {connectionLimit}",
        })
        {
            await using var command = _admin.CreateCommand(sql);
            await command.ExecuteNonQueryAsync();
        }
        return new UriBuilder(url) { UserName = role, Password = password }.Uri.ToString();
    }

    private static string UniqueDatabaseName(string? name)
    {
        var suffix = Guid.NewGuid().ToString("N")[..16];
        var prefix = InvalidNameCharacters().Replace((name ?? "").ToLowerInvariant(), "_").Trim('_');
        if (prefix.Length == 0)
        {
            prefix = "blnk_test";
        }
        if (prefix.Length > 40)
        {
            prefix = prefix[..40];
        }
        if (char.IsAsciiDigit(prefix[0]))
        {
            prefix = "db_" + prefix;
        }
        return $"{prefix}_{suffix}";
    }

    [GeneratedRegex("[^a-z0-9_]+")]
    private static partial Regex InvalidNameCharacters();

    private static async Task<PostgresCluster> StartSharedAsync()
    {
        var url = Environment.GetEnvironmentVariable(UrlEnvironmentVariable)?.Trim();
        return string.IsNullOrEmpty(url) ? await StartOwnClusterAsync() : await UseExistingServerAsync(url);
    }

    private static async Task<PostgresCluster> UseExistingServerAsync(string adminUrl)
    {
        if (!Uri.TryCreate(adminUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("postgres" or "postgresql"))
        {
            throw new InvalidOperationException(
                $"{UrlEnvironmentVariable} must be a postgres:// URL of an existing server, e.g. " +
                "postgres://postgres@127.0.0.1:5433/postgres?sslmode=disable");
        }
        var builder = new NpgsqlConnectionStringBuilder(PostgresConnectionString.Parse(adminUrl));
        if (string.IsNullOrEmpty(builder.Database))
        {
            builder.Database = "postgres";
        }
        builder.SearchPath = null;
        var admin = NpgsqlDataSource.Create(builder.ConnectionString);
        await VerifyConnectionAsync(admin, $"the server named by {UrlEnvironmentVariable}");
        var userInfo = uri.UserInfo.Length > 0 ? uri.UserInfo + "@" : "";
        var port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port;
        var query = uri.Query.Length > 0 ? uri.Query : "?sslmode=disable";
        var prefix = $"{uri.Scheme}://{userInfo}{uri.Host}:{port.ToString(CultureInfo.InvariantCulture)}/";
        return new PostgresCluster(admin, database => prefix + database + query);
    }

    private static async Task<PostgresCluster> StartOwnClusterAsync()
    {
        var binDirectory = FindBinDirectory() ?? throw new InvalidOperationException(
            "PostgreSQL server binaries (initdb, pg_ctl) were not found on PATH nor under " +
            "/usr/lib/postgresql/*/bin. Install them with `apt-get install postgresql` (PostgreSQL 15), " +
            $"or set {UrlEnvironmentVariable} to the admin URL of an existing server.");
        var asPostgresUser = Environment.IsPrivilegedProcess;
        var root = Path.Combine(Path.GetTempPath(), "blnk-pg-" + Guid.NewGuid().ToString("N")[..16]);
        var dataDirectory = Path.Combine(root, "data");
        var logFile = Path.Combine(root, "postgres.log");
        Directory.CreateDirectory(root);
        var server = new LocalServer(binDirectory, root, dataDirectory, asPostgresUser);
        ExitCleanup.Register(root, server.StopCommand);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.StopAndDelete();
        if (asPostgresUser)
        {
            await RunAsync("chown", ["-R", $"{SuperUser}:{SuperUser}", root], asPostgresUser: false, root);
        }
        await RunAsync(Path.Combine(binDirectory, "initdb"),
            ["-D", dataDirectory, "--auth=trust", "-U", SuperUser, "-E", "UTF8", "--no-locale", "--no-sync"],
            asPostgresUser, root);
        await File.AppendAllTextAsync(Path.Combine(dataDirectory, "postgresql.conf"), string.Join('\n',
            "",
            "# Throwaway test cluster (Blnk.TestSupport.PostgresCluster).",
            "listen_addresses = '127.0.0.1'",
            $"unix_socket_directories = '{root}'",
            "fsync = on",
            "max_connections = 300",
            "log_min_messages = warning",
            ""));
        for (var attempt = 1; ; attempt++)
        {
            var port = FreeTcpPort();
            try
            {
                await RunAsync(Path.Combine(binDirectory, "pg_ctl"),
                    ["-D", dataDirectory, "-l", logFile, "-w", "-t", "60",
                        "-o", $"-p {port.ToString(CultureInfo.InvariantCulture)}", "start"],
                    asPostgresUser, root);
            }
            catch (InvalidOperationException) when (attempt < StartAttempts)
            {
                // Most likely another process took the port between our probe and the server's bind.
                continue;
            }
            catch (InvalidOperationException exception)
            {
                var log = File.Exists(logFile) ? await File.ReadAllTextAsync(logFile) : "(no log)";
                throw new InvalidOperationException($"{exception.Message}\nServer log:\n{log}", exception);
            }
            var admin = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder
            {
                Host = "127.0.0.1",
                Port = port,
                Username = SuperUser,
                Database = "postgres",
                SslMode = SslMode.Disable,
                MaxPoolSize = 10,
            }.ConnectionString);
            await VerifyConnectionAsync(admin, $"the test cluster in {root}");
            var prefix = $"postgres://{SuperUser}@127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/";
            return new PostgresCluster(admin, database => $"{prefix}{database}?sslmode=disable");
        }
    }

    private static async Task VerifyConnectionAsync(NpgsqlDataSource admin, string what)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var command = admin.CreateCommand("SELECT 1");
                await command.ExecuteScalarAsync();
                return;
            }
            catch (Exception exception) when (exception is NpgsqlException or TimeoutException)
            {
                if (attempt >= 50)
                {
                    throw new InvalidOperationException($"cannot connect to {what}: {exception.Message}", exception);
                }
                await Task.Delay(200);
            }
        }
    }

    /// <summary>initdb's directory: PATH first, then the highest /usr/lib/postgresql/VERSION/bin.</summary>
    private static string? FindBinDirectory()
    {
        var pathDirectories = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        foreach (var directory in pathDirectories)
        {
            var initdb = Path.Combine(directory, "initdb");
            if (!File.Exists(initdb))
            {
                continue;
            }
            // Debian links /usr/local/bin/initdb into /usr/lib/postgresql/N/bin; pg_ctl and postgres live there.
            var resolved = new FileInfo(initdb).ResolveLinkTarget(returnFinalTarget: true)?.FullName;
            var resolvedDirectory = resolved is null ? null : Path.GetDirectoryName(resolved);
            if (resolvedDirectory is not null && HasServerBinaries(resolvedDirectory))
            {
                return resolvedDirectory;
            }
            if (HasServerBinaries(directory))
            {
                return directory;
            }
        }
        const string debianRoot = "/usr/lib/postgresql";
        if (!Directory.Exists(debianRoot))
        {
            return null;
        }
        return Directory.GetDirectories(debianRoot)
            .Select(directory => (Directory: Path.Combine(directory, "bin"), Version: VersionOf(directory)))
            .Where(candidate => HasServerBinaries(candidate.Directory))
            .OrderByDescending(candidate => candidate.Version)
            .Select(candidate => candidate.Directory)
            .FirstOrDefault();
    }

    private static bool HasServerBinaries(string directory) =>
        File.Exists(Path.Combine(directory, "initdb")) && File.Exists(Path.Combine(directory, "pg_ctl"));

    private static Version VersionOf(string directory) =>
        Version.TryParse(Path.GetFileName(directory), out var version) ? version
        : int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var major)
            ? new Version(major, 0)
            : new Version(0, 0);

    private static int FreeTcpPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        finally
        {
            listener.Stop();
        }
    }

    /// <summary>Runs a program to completion; as the postgres OS user when we are root.</summary>
    private static async Task<string> RunAsync(string program, IReadOnlyList<string> arguments, bool asPostgresUser,
        string workingDirectory)
    {
        var startInfo = StartInfo(program, arguments, asPostgresUser, workingDirectory);
        using var process = Process.Start(startInfo)
            ?? throw new InvalidOperationException($"could not start {program}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(_commandTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{Describe(startInfo)} did not finish within {_commandTimeout}");
        }
        var output = await stdout + await stderr;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{Describe(startInfo)} failed with exit code {process.ExitCode}:\n{output}");
        }
        return output;
    }

    private static ProcessStartInfo StartInfo(string program, IReadOnlyList<string> arguments, bool asPostgresUser,
        string workingDirectory)
    {
        var startInfo = new ProcessStartInfo
        {
            FileName = asPostgresUser ? "runuser" : program,
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
        };
        if (asPostgresUser)
        {
            foreach (var argument in new[] { "-u", SuperUser, "--", program })
            {
                startInfo.ArgumentList.Add(argument);
            }
        }
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }
        return startInfo;
    }

    private static string Describe(ProcessStartInfo startInfo)
    {
        var text = new StringBuilder(startInfo.FileName);
        foreach (var argument in startInfo.ArgumentList)
        {
            text.Append(' ').Append(argument);
        }
        return $"`{text}`";
    }

    /// <summary>The cluster this process started; stopped and deleted when the process exits.</summary>
    private sealed class LocalServer(string binDirectory, string root, string dataDirectory, bool asPostgresUser)
    {
        private int _stopped;

        /// <summary>The command line that stops the server at once (immediate shutdown).</summary>
        public IReadOnlyList<string> StopCommand
        {
            get
            {
                var startInfo = StartInfo(Path.Combine(binDirectory, "pg_ctl"),
                    ["-D", dataDirectory, "-m", "immediate", "-w", "-t", "30", "stop"], asPostgresUser, root);
                return [startInfo.FileName, .. startInfo.ArgumentList];
            }
        }

        public void StopAndDelete()
        {
            if (Interlocked.Exchange(ref _stopped, 1) != 0)
            {
                return;
            }
            try
            {
                if (File.Exists(Path.Combine(dataDirectory, "postmaster.pid")))
                {
                    var command = StopCommand;
                    var startInfo = new ProcessStartInfo(command[0], command.Skip(1))
                    {
                        WorkingDirectory = root,
                        RedirectStandardOutput = true,
                        RedirectStandardError = true,
                        UseShellExecute = false,
                    };
                    using var process = Process.Start(startInfo);
                    if (process is not null)
                    {
                        // Drain the pipes so a chatty child cannot block on a full buffer.
                        process.OutputDataReceived += (_, _) => { };
                        process.ErrorDataReceived += (_, _) => { };
                        process.BeginOutputReadLine();
                        process.BeginErrorReadLine();
                        process.WaitForExit(TimeSpan.FromSeconds(30));
                    }
                }
            }
            catch (Exception exception) when (exception is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // Best effort at exit: nothing sensible is left to do.
            }
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                // Best effort at exit.
            }
        }
    }
}

/// <summary>
/// Cleanup that survives the test process being killed: the test host is often terminated shortly after
/// the last test (so <see cref="AppDomain.ProcessExit"/> handlers may not finish), and a run can be
/// aborted outright. A detached shell in its own session waits for this process to end, then runs an
/// optional stop command and deletes the directory.
/// </summary>
internal static class ExitCleanup
{
    private const string Script =
        "exec </dev/null >/dev/null 2>&1\n" +
        "pid=$1; directory=$2; shift 2\n" +
        "while kill -0 \"$pid\" 2>/dev/null; do sleep 1; done\n" +
        "if [ $# -gt 0 ]; then \"$@\"; fi\n" +
        "rm -rf -- \"$directory\"\n";

    public static void Register(string directory, IReadOnlyList<string>? stopCommand = null)
    {
        var useSetsid = File.Exists("/usr/bin/setsid") || File.Exists("/bin/setsid");
        var startInfo = new ProcessStartInfo
        {
            FileName = useSetsid ? "setsid" : "sh",
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var arguments = new List<string>();
        if (useSetsid)
        {
            arguments.Add("sh");
        }
        arguments.AddRange(["-c", Script, "blnk-test-cleanup",
            Environment.ProcessId.ToString(CultureInfo.InvariantCulture), directory]);
        arguments.AddRange(stopCommand ?? []);
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }
        try
        {
            using var process = Process.Start(startInfo);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // No shell: fall back to the ProcessExit handlers alone.
        }
    }
}
