using Blnk.TestSupport;

namespace Blnk.Server.Tests;

/// <summary>
/// One server per storage dialect, shared by the tests of a class: a real process on loopback over a
/// fresh SQLite file or a fresh PostgreSQL database. Tests use unique references and balances, so
/// they do not disturb each other.
/// </summary>
public sealed class ServerFixture : IAsyncLifetime
{
    private readonly Dictionary<string, ServerProcess> _servers = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _gate = new(1, 1);

    public static TheoryData<string> Dialects => new() { "sqlite", "postgres" };

    public async Task<Api> ApiAsync(string dialect) => new((await ServerAsync(dialect)).Client);

    public async Task<ServerProcess> ServerAsync(string dialect)
    {
        await _gate.WaitAsync();
        try
        {
            if (!_servers.TryGetValue(dialect, out var server))
            {
                server = await ServerProcess.StartAsync(await NewDataSourceAsync(dialect));
                _servers[dialect] = server;
            }
            return server;
        }
        finally
        {
            _gate.Release();
        }
    }

    public static async Task<string> NewDataSourceAsync(string dialect) => dialect switch
    {
        "sqlite" => ServerProcess.NewSqliteDns(),
        "postgres" => await (await PostgresCluster.SharedAsync()).CreateDatabaseAsync(),
        _ => throw new ArgumentOutOfRangeException(nameof(dialect), dialect, "sqlite or postgres"),
    };

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var server in _servers.Values)
        {
            await server.DisposeAsync();
        }
        _gate.Dispose();
    }
}
