using System.Data.Common;
using System.Globalization;
using System.Net;
using System.Numerics;
using System.Text.Json;
using Blnk.TestSupport;

namespace Blnk.Server.Tests;

// Shared helpers of the fund-lineage tests: a server per dialect whose database the tests may also read,
// identities (which have no endpoint here), tracked balances, tagged credits, and waiting for lineage.

/// <summary>
/// One server per storage dialect for a test class, with its data source: lineage tests insert identities and
/// read the lineage work table directly.
/// </summary>
public sealed class LineageFixture : IAsyncLifetime
{
    private readonly Dictionary<string, LineageClient> _clients = new(StringComparer.Ordinal);
    private readonly List<ServerProcess> _servers = [];
    private readonly SemaphoreSlim _gate = new(1, 1);

    public async Task<LineageClient> ClientAsync(string dialect)
    {
        await _gate.WaitAsync();
        try
        {
            if (!_clients.TryGetValue(dialect, out var client))
            {
                var dataSource = await ServerFixture.NewDataSourceAsync(dialect);
                var server = await ServerProcess.StartAsync(dataSource);
                _servers.Add(server);
                client = new LineageClient(new Api(server.Client), dataSource);
                _clients[dialect] = client;
            }
            return client;
        }
        finally
        {
            _gate.Release();
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }
        _gate.Dispose();
    }
}

/// <summary>One provider line of <c>GET /balances/{id}/lineage</c>.</summary>
public sealed record ProviderLine(string Provider, BigInteger Amount, BigInteger Available, BigInteger Spent);

/// <summary>The HTTP API plus direct reads of the server's database, for lineage tests.</summary>
public sealed class LineageClient(Api api, string dataSource)
{
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(30);

    public Api Api => api;

    public string DataSource => dataSource;

    /// <summary>A new identity (inserted directly: identities have no endpoint in this server yet).</summary>
    public async Task<string> IdentityAsync(string firstName = "John", string lastName = "Doe")
    {
        var identityId = "idt_" + Guid.NewGuid();
        var now = dataSource.StartsWith("sqlite:", StringComparison.Ordinal)
            ? ((DateTime.UtcNow - DateTime.UnixEpoch).Ticks / 10).ToString(CultureInfo.InvariantCulture)
            : "now()";
        await ExecuteAsync("INSERT INTO identities (identity_id, first_name, last_name, created_at) " +
            $"VALUES ('{identityId}', '{firstName}', '{lastName}', {now})");
        return identityId;
    }

    /// <summary>The identifier in shadow names: lower(first_last) + "_" + the id's first 8 characters.</summary>
    public static string Identifier(string identityId, string firstName = "John", string lastName = "Doe") =>
        $"{firstName}_{lastName}".ToLowerInvariant() + "_" + identityId[..8];

    public async Task<string> TrackedBalanceAsync(string identityId, string strategy)
    {
        var response = await api.PostAsync("balances", new
        {
            ledger_id = "general_ledger_id", currency = "USD", identity_id = identityId, track_fund_lineage = true,
            allocation_strategy = strategy,
        });
        Assert.True(response.Status == HttpStatusCode.Created, response.Text);
        Assert.True(response.Body.GetProperty("track_fund_lineage").GetBoolean());
        return response.Str("balance_id");
    }

    /// <summary>Money from @World into <paramref name="balanceId"/>, tagged with a provider if given.</summary>
    public async Task<ApiResponse> CreditAsync(string balanceId, long preciseAmount, string? provider,
        bool skipQueue = true, bool inflight = false)
    {
        return await Lifecycle.CreateAsync(api, Body("@World", balanceId, preciseAmount, provider, skipQueue,
            inflight));
    }

    public async Task<ApiResponse> TransferAsync(string source, string destination, long preciseAmount,
        bool skipQueue = true, bool inflight = false, string? provider = null) =>
        await Lifecycle.CreateAsync(api, Body(source, destination, preciseAmount, provider, skipQueue, inflight));

    /// <summary>
    /// Waits until the queue, queued inflight actions and lineage work are all done, then checks that no lineage
    /// work failed or was refused.
    /// </summary>
    public async Task DrainAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DrainTimeout);
        while (await CountAsync("SELECT (SELECT COUNT(*) FROM transaction_queue) + " +
            "(SELECT COUNT(*) FROM inflight_actions) + " +
            "(SELECT COUNT(*) FROM lineage_outbox WHERE processed_at IS NULL)") > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "queued or lineage work still pending: " + await PendingAsync());
            await Task.Delay(50);
        }
        Assert.True(await CountAsync("SELECT COUNT(*) FROM lineage_outbox WHERE last_error IS NOT NULL") == 0,
            await PendingAsync());
    }

    /// <summary>What is still pending, and lineage errors, for a failure message.</summary>
    private async Task<string> PendingAsync()
    {
        await using var connection = await TestStores.OpenRawConnectionAsync(dataSource);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT 'queue', COUNT(*), '' FROM transaction_queue UNION ALL " +
            "SELECT 'inflight_actions', COUNT(*), '' FROM inflight_actions UNION ALL " +
            "SELECT 'lineage ' || lineage_type, attempts, COALESCE(last_error, '') FROM lineage_outbox " +
            "WHERE processed_at IS NULL OR last_error IS NOT NULL";
        await using var reader = await command.ExecuteReaderAsync();
        var lines = new List<string>();
        while (await reader.ReadAsync() && lines.Count < 20)
        {
            lines.Add($"{reader.GetString(0)} {reader.GetValue(1)} {reader.GetString(2)}");
        }
        return string.Join("; ", lines);
    }

    public async Task<ApiResponse> BalanceLineageAsync(string balanceId)
    {
        var response = await api.GetAsync($"balances/{balanceId}/lineage");
        Assert.True(response.Status == HttpStatusCode.OK, response.Text);
        return response;
    }

    public async Task<List<ProviderLine>> ProvidersAsync(string balanceId) =>
        [.. (await BalanceLineageAsync(balanceId)).Body.GetProperty("providers").EnumerateArray()
            .Select(line => new ProviderLine(line.GetProperty("provider").GetString()!,
                Lifecycle.Big(line, "amount"), Lifecycle.Big(line, "available"), Lifecycle.Big(line, "spent")))];

    public async Task<ApiResponse> TransactionLineageAsync(string transactionId)
    {
        var response = await api.GetAsync($"transactions/{transactionId}/lineage");
        Assert.True(response.Status == HttpStatusCode.OK, response.Text);
        return response;
    }

    /// <summary><c>fund_allocation</c> as "provider:amount" in order, or "-" when absent.</summary>
    public static string Allocation(ApiResponse lineage) =>
        lineage.Body.TryGetProperty("fund_allocation", out var allocation) ? Allocation(allocation) : "-";

    /// <summary>A fund allocation array as "provider:amount" in order.</summary>
    public static string Allocation(JsonElement allocation) =>
        string.Join(' ', allocation.EnumerateArray().Select(share =>
            $"{share.GetProperty("provider").GetString()}:{Lifecycle.Big(share, "amount")}"));

    /// <summary>The shadow transactions as "reference status amount" lines, in log order.</summary>
    public static List<string> Shadows(ApiResponse lineage) =>
        [.. lineage.Body.GetProperty("shadow_transactions").EnumerateArray().Select(row =>
            $"{row.GetProperty("reference").GetString()} {row.GetProperty("status").GetString()} " +
            $"{Lifecycle.Big(row, "precise_amount")}")];

    public async Task<string> IndicatorBalanceIdAsync(string indicator)
    {
        var response = await api.GetAsync($"balances/indicator/{Uri.EscapeDataString(indicator)}/currency/USD");
        Assert.True(response.Status == HttpStatusCode.OK, response.Text);
        return response.Str("balance_id");
    }

    /// <summary>Σ balance and Σ inflight balance are zero per currency, over every balance (shadows too).</summary>
    public async Task AssertMoneyConservedAsync()
    {
        var totals = new Dictionary<string, (BigInteger Balance, BigInteger Inflight)>(StringComparer.Ordinal);
        await using var connection = await TestStores.OpenRawConnectionAsync(dataSource);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT currency, CAST(credit_balance AS TEXT), CAST(debit_balance AS TEXT), " +
            "CAST(inflight_credit_balance AS TEXT), CAST(inflight_debit_balance AS TEXT) FROM balances";
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var (balance, inflight) = totals.GetValueOrDefault(reader.GetString(0));
            totals[reader.GetString(0)] = (balance + Number(reader, 1) - Number(reader, 2),
                inflight + Number(reader, 3) - Number(reader, 4));
        }
        foreach (var (currency, (balance, inflight)) in totals)
        {
            Assert.True(balance.IsZero && inflight.IsZero, $"{currency}: Σ balance {balance}, Σ inflight {inflight}");
        }
    }

    public async Task<long> CountAsync(string sql)
    {
        await using var connection = await TestStores.OpenRawConnectionAsync(dataSource);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    public async Task ExecuteAsync(string sql)
    {
        await using var connection = await TestStores.OpenRawConnectionAsync(dataSource);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    private static BigInteger Number(DbDataReader reader, int ordinal) =>
        BigInteger.Parse(reader.GetString(ordinal), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);

    /// <summary>A transaction body; from @World overdraft is allowed, and a provider tags it.</summary>
    public static Dictionary<string, object?> Body(string source, string destination, long preciseAmount,
        string? provider, bool skipQueue, bool inflight, string? reference = null)
    {
        var body = Lifecycle.Transaction(source, destination, preciseAmount, reference ?? Lifecycle.NewReference("lin"),
            skipQueue,
            provider is null
                ? null
                : new { meta_data = new Dictionary<string, string> { ["BLNK_LINEAGE_PROVIDER"] = provider } });
        body["allow_overdraft"] = source == "@World";
        body["inflight"] = inflight;
        return body;
    }
}
