using System.Diagnostics;
using System.Globalization;
using System.Net;
using Blnk.TestSupport;

namespace Blnk.Server.Tests;

// Covers secure mode (X-Blnk-Key), start-up configuration errors, the migrate command, and the body cap.
public sealed class AuthAndConfigurationTests
{
    private const string Secret = "test-master-key";

    [Fact]
    public async Task Secure_mode_requires_the_master_key_except_on_root_and_health()
    {
        await using var server = await ServerProcess.StartAsync(ServerProcess.NewSqliteDns(),
            new Dictionary<string, string> { ["BLNK_SERVER_SECURE"] = "true", ["BLNK_SERVER_SECRET_KEY"] = Secret });
        var api = new Api(server.Client);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("health")).Status);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("")).Status);

        var missing = await api.GetAsync("ledgers");
        Assert.Equal(HttpStatusCode.Unauthorized, missing.Status);
        Assert.Equal("AUTH_MISSING_API_KEY", missing.ErrorCode);
        Assert.Equal("Authentication required. Use X-Blnk-Key header", missing.ErrorMessage);

        var wrong = await api.SendAsync(HttpMethod.Get, "ledgers", null,
            new Dictionary<string, string> { ["X-Blnk-Key"] = "nope" });
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.Status);
        Assert.Equal("AUTH_INVALID_API_KEY", wrong.ErrorCode);

        var right = await api.SendAsync(HttpMethod.Get, "ledgers", null,
            new Dictionary<string, string> { ["x-blnk-key"] = Secret });
        Assert.Equal(HttpStatusCode.OK, right.Status);
    }

    [Theory]
    [InlineData("BLNK_SERVER_PORT", "abc", "server.port")]
    [InlineData("BLNK_SERVER_SECURE", "maybe", "server.secure")]
    [InlineData("BLNK_DATA_SOURCE_DNS", "mysql://x@y/z", "data_source.dns")]
    [InlineData("BLNK_SERVER_HOST", "not an address", "server.host")]
    [InlineData("BLNK_WEBHOOK_URL", "ftp://example.com/hook", "notification.webhook.url")]
    [InlineData("BLNK_WEBHOOK_HEADERS", "no-colon-here", "BLNK_WEBHOOK_HEADERS")]
    [InlineData("BLNK_WEBHOOK_MAX_ATTEMPTS", "0", "notification.webhook.max_attempts")]
    [InlineData("BLNK_TRANSACTION_WRITER_LOOPS", "99", "transaction.writer_loops")]
    [InlineData("BLNK_TRANSACTION_REMEMBERED_BALANCES", "-1", "transaction.remembered_balances")]
    public async Task A_bad_configuration_value_stops_start_up_naming_the_key(string variable, string value,
        string named)
    {
        var (exitCode, output) = await RunServerAsync(new Dictionary<string, string> { [variable] = value });
        Assert.NotEqual(0, exitCode);
        Assert.Contains(named, output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Secure_mode_without_a_secret_key_does_not_start()
    {
        var (exitCode, output) = await RunServerAsync(new Dictionary<string, string> { ["BLNK_SERVER_SECURE"] = "true" });
        Assert.NotEqual(0, exitCode);
        Assert.Contains("server.secret_key", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Blnk_json_in_the_working_directory_configures_the_server()
    {
        var directory = Directory.CreateTempSubdirectory("blnk-config-").FullName;
        await File.WriteAllTextAsync(Path.Combine(directory, "blnk.json"),
            """{"server": {"port": "not-a-port"}, "redis": {"dns": "redis:6379"}}""");
        var (exitCode, output) = await RunServerAsync(new Dictionary<string, string>(), directory);
        Assert.NotEqual(0, exitCode);
        Assert.Contains("server.port", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_server_watches_no_files_so_writes_beside_it_do_not_wake_it()
    {
        await using var server = await ServerProcess.StartAsync(ServerProcess.NewSqliteDns());

        // Configuration is read once at start. A file watcher (an inotify instance on Linux) would wake the server
        // for every write below its working directory, where the SQLite file lives by default.
        var watchers = Directory.GetFiles($"/proc/{server.ProcessId.ToString(CultureInfo.InvariantCulture)}/fd")
            .Select(TargetOf)
            .Where(target => target == "anon_inode:inotify");
        Assert.Empty(watchers);
    }

    /// <summary>What an open descriptor of a process names; null for one closed since it was listed.</summary>
    private static string? TargetOf(string descriptor)
    {
        try
        {
            return new FileInfo(descriptor).LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }

    [Fact]
    public async Task Migrate_command_applies_migrations_and_exits()
    {
        var dns = ServerProcess.NewSqliteDns();
        var (exitCode, output) = await RunServerAsync(new Dictionary<string, string> { ["BLNK_DATA_SOURCE_DNS"] = dns },
            arguments: "migrate");
        Assert.True(exitCode == 0, output);
        Assert.Contains("migrations applied", output, StringComparison.Ordinal);
        Assert.True(File.Exists(dns["sqlite:".Length..]));
    }

    [Fact]
    public async Task Default_storage_is_an_sqlite_file_under_data()
    {
        var directory = Directory.CreateTempSubdirectory("blnk-default-").FullName;
        var (exitCode, output) = await RunServerAsync(new Dictionary<string, string>(), directory, "migrate");
        Assert.True(exitCode == 0, output);
        Assert.True(File.Exists(Path.Combine(directory, "data", "blnk.db")));
    }

    [Fact]
    public async Task Oversized_body_is_413()
    {
        await using var server = await ServerProcess.StartAsync(ServerProcess.NewSqliteDns(),
            new Dictionary<string, string> { ["BLNK_SERVER_MAX_REQUEST_BODY_SIZE_MB"] = "1" });
        var api = new Api(server.Client);
        var big = "{\"name\": \"" + new string('x', 2 * 1024 * 1024) + "\"}";
        var response = await api.PostAsync("ledgers", big);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.Status);
        Assert.Equal("GEN_PAYLOAD_TOO_LARGE", response.ErrorCode);
    }

    private static async Task<(int ExitCode, string Output)> RunServerAsync(Dictionary<string, string> environment,
        string? workingDirectory = null, string arguments = "")
    {
        var dll = Path.Combine(ServerProcess.RepositoryRoot(), "src", "Blnk.Server", "bin",
            ServerProcess.BuildConfiguration(), "net10.0", "Blnk.Server.dll");
        var start = new ProcessStartInfo("dotnet", $"\"{dll}\" {arguments}")
        {
            WorkingDirectory = workingDirectory ?? Directory.CreateTempSubdirectory("blnk-run-").FullName,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("the server did not exit: " + await stdout + await stderr);
        }
        return (process.ExitCode, await stdout + await stderr);
    }
}
