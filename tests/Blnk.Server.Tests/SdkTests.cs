using System.Diagnostics;
using System.Globalization;
using System.Text;
using Blnk.TestSupport;
using Xunit.Abstractions;

namespace Blnk.Server.Tests;

/// <summary>
/// Blnk's official TypeScript SDK (<c>tests/sdk/sdk-smoke.mjs</c>, run by Node) against the real server, once on
/// SQLite and once on PostgreSQL: the wire contract as SDK users meet it.
/// </summary>
public sealed class SdkTests(ITestOutputHelper output)
{
    private static readonly SemaphoreSlim s_npmGate = new(1, 1);
    private static bool s_npmInstalled;

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Official_typescript_sdk_smoke_passes(string database)
    {
        var sdkDirectory = Path.Combine(ServerProcess.RepositoryRoot(), "tests", "sdk");
        await EnsureNpmInstalledAsync(sdkDirectory);

        var dataSourceDns = database switch
        {
            "sqlite" => ServerProcess.NewSqliteDns(),
            "postgres" => await (await PostgresCluster.SharedAsync()).CreateDatabaseAsync(),
            _ => throw new ArgumentOutOfRangeException(nameof(database), database, "sqlite or postgres"),
        };
        await using var server = await ServerProcess.StartAsync(dataSourceDns);

        var (exitCode, scriptOutput) = await RunAsync("node", sdkDirectory, TimeSpan.FromMinutes(2),
            "sdk-smoke.mjs", server.BaseUrl.ToString());
        output.WriteLine(scriptOutput);

        Assert.True(exitCode == 0,
            $"node sdk-smoke.mjs {server.BaseUrl} on {database} exited with {exitCode}.\n" +
            $"--- script output ---\n{scriptOutput}\n--- server output ---\n{server.Output}");
    }

    private static async Task EnsureNpmInstalledAsync(string sdkDirectory)
    {
        await s_npmGate.WaitAsync();
        try
        {
            if (s_npmInstalled)
            {
                return;
            }
            var (exitCode, npmOutput) = await RunAsync("npm", sdkDirectory, TimeSpan.FromMinutes(5),
                "ci", "--no-audit", "--no-fund");
            Assert.True(exitCode == 0, $"npm ci in {sdkDirectory} exited with {exitCode}:\n{npmOutput}");
            s_npmInstalled = true;
        }
        finally
        {
            s_npmGate.Release();
        }
    }

    /// <summary>Runs a program to its end (or kills it after <paramref name="timeout"/>); stdout and stderr
    /// interleaved.</summary>
    private static async Task<(int ExitCode, string Output)> RunAsync(string fileName, string workingDirectory,
        TimeSpan timeout, params string[] arguments)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }
        var text = new StringBuilder();
        var gate = new Lock();
        void Append(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (gate)
            {
                text.Append(line).Append('\n');
            }
        }

        using var process = new Process { StartInfo = startInfo };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Append($"[killed after {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s]");
            return (-1, Snapshot());
        }
        return (process.ExitCode, Snapshot());

        string Snapshot()
        {
            lock (gate)
            {
                return text.ToString();
            }
        }
    }
}
