using System.Globalization;
using System.Net;
using System.Numerics;
using System.Text;
using System.Text.Json;
using Blnk.TestSupport;

namespace Blnk.Server.Tests;

/// <summary>A response as a test sees it: status and parsed JSON body (null for non-JSON bodies).</summary>
public sealed record ApiResponse(HttpStatusCode Status, JsonElement Body, string Text)
{
    public string Str(string property) => Body.GetProperty(property).GetString()!;

    /// <summary>A money field read exactly from its raw JSON number.</summary>
    public BigInteger Money(string property) => Api.Money(Body.GetProperty(property));

    public string ErrorCode => Body.GetProperty("error_detail").GetProperty("code").GetString()!;

    public string ErrorMessage => Body.GetProperty("error_detail").GetProperty("message").GetString()!;
}

/// <summary>Thin HTTP helpers over a running <see cref="ServerProcess"/>; bodies are raw JSON as clients send them.</summary>
public sealed class Api(HttpClient client)
{
    public static BigInteger Money(JsonElement number) =>
        BigInteger.Parse(number.GetRawText(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);

    public Task<ApiResponse> GetAsync(string path) => SendAsync(HttpMethod.Get, path, null);

    public Task<ApiResponse> PostAsync(string path, object body) => SendAsync(HttpMethod.Post, path, body);

    public Task<ApiResponse> PutAsync(string path, object body) => SendAsync(HttpMethod.Put, path, body);

    public async Task<ApiResponse> SendAsync(HttpMethod method, string path, object? body,
        IDictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            var json = body as string ?? JsonSerializer.Serialize(body);
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        JsonElement parsed = default;
        try
        {
            parsed = JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (JsonException)
        {
            // Not JSON (e.g. the plain-text 404); tests read Text instead.
        }
        return new ApiResponse(response.StatusCode, parsed, text);
    }

    public async Task<string> CreateBalanceAsync(string currency = "USD", string ledgerId = "general_ledger_id")
    {
        var response = await PostAsync("balances", new { ledger_id = ledgerId, currency });
        Assert.Equal(HttpStatusCode.Created, response.Status);
        return response.Str("balance_id");
    }

    /// <summary>Funds a balance from @World (overdraft allowed) with a synchronous transfer.</summary>
    public async Task FundAsync(string balanceId, long preciseAmount, string currency = "USD")
    {
        var response = await PostAsync("transactions", new
        {
            precise_amount = preciseAmount, precision = 100, currency, reference = "fund-" + Guid.NewGuid(),
            description = "funding", source = "@World", destination = balanceId, allow_overdraft = true,
            skip_queue = true,
        });
        Assert.True(response.Status == HttpStatusCode.Created, response.Text);
    }

    public async Task<ApiResponse> TransferAsync(string source, string destination, long preciseAmount,
        bool skipQueue = true, string? reference = null, string currency = "USD")
    {
        return await PostAsync("transactions", new
        {
            precise_amount = preciseAmount, precision = 100, currency, reference = reference ?? "t-" + Guid.NewGuid(),
            description = "transfer", source, destination, skip_queue = skipQueue,
        });
    }

    public async Task<BigInteger> BalanceOfAsync(string balanceId) =>
        (await GetAsync($"balances/{balanceId}")).Money("balance");

    /// <summary>Polls <c>GET /transactions/reference/{reference}</c> until it exists (queued outcomes).</summary>
    public async Task<ApiResponse> WaitForReferenceAsync(string reference, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (true)
        {
            var response = await GetAsync($"transactions/reference/{Uri.EscapeDataString(reference)}");
            if (response.Status == HttpStatusCode.OK || DateTime.UtcNow > deadline)
            {
                return response;
            }
            await Task.Delay(50);
        }
    }
}
