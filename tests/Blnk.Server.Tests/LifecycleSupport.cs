using System.Globalization;
using System.Net;
using System.Numerics;
using System.Text.Json;

namespace Blnk.Server.Tests;

// Shared helpers of the transaction-lifecycle tests (inflight, refunds, splits, bulk, dry runs).

/// <summary>The six money fields of a balance, read exactly from the raw JSON numbers.</summary>
public sealed record BalanceFigures(BigInteger Balance, BigInteger Credit, BigInteger Debit, BigInteger InflightDebit,
    BigInteger InflightCredit, BigInteger InflightBalance)
{
    /// <summary>
    /// Expected figures: balance = credit − debit, inflight_balance = inflight credit − inflight debit.
    /// </summary>
    public static BalanceFigures Of(long credit, long debit, long inflightDebit = 0, long inflightCredit = 0) =>
        new(credit - debit, credit, debit, inflightDebit, inflightCredit, inflightCredit - inflightDebit);

    public static BalanceFigures From(JsonElement balance) => new(
        Api.Money(balance.GetProperty("balance")), Api.Money(balance.GetProperty("credit_balance")),
        Api.Money(balance.GetProperty("debit_balance")), Api.Money(balance.GetProperty("inflight_debit_balance")),
        Api.Money(balance.GetProperty("inflight_credit_balance")), Api.Money(balance.GetProperty("inflight_balance")));
}

public static class Lifecycle
{
    public static readonly TimeSpan PollTimeout = TimeSpan.FromSeconds(20);

    public static async Task<BalanceFigures> FiguresAsync(this Api api, string balanceId)
    {
        var response = await api.GetAsync($"balances/{balanceId}");
        Assert.True(response.Status == HttpStatusCode.OK, response.Text);
        return BalanceFigures.From(response.Body);
    }

    public static async Task AssertFiguresAsync(this Api api, string balanceId, BalanceFigures expected,
        string what = "")
    {
        var actual = await api.FiguresAsync(balanceId);
        Assert.True(expected == actual, $"{what} {balanceId}: expected {expected}, got {actual}");
    }

    /// <summary>A fresh USD balance funded with <paramref name="preciseAmount"/> from @World.</summary>
    public static async Task<string> FundedBalanceAsync(this Api api, long preciseAmount)
    {
        var balance = await api.CreateBalanceAsync();
        if (preciseAmount > 0)
        {
            await api.FundAsync(balance, preciseAmount);
        }
        return balance;
    }

    public static string NewReference(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    /// <summary>RFC 3339 in UTC with milliseconds (the server accepts fractions).</summary>
    public static string Rfc3339(DateTime utc) =>
        utc.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>A transaction body; <paramref name="extra"/> adds or replaces fields.</summary>
    public static Dictionary<string, object?> Transaction(string source, string destination, long preciseAmount,
        string reference, bool skipQueue = true, object? extra = null)
    {
        var body = new Dictionary<string, object?>
        {
            ["precise_amount"] = preciseAmount, ["precision"] = 100, ["currency"] = "USD", ["reference"] = reference,
            ["description"] = "lifecycle", ["source"] = source, ["destination"] = destination,
            ["skip_queue"] = skipQueue,
        };
        if (extra is not null)
        {
            foreach (var (key, value) in JsonSerializer.SerializeToElement(extra).EnumerateObject()
                .Select(property => (property.Name, (object?)property.Value)))
            {
                body[key] = value;
            }
        }
        return body;
    }

    /// <summary>POST /transactions, asserting 201.</summary>
    public static async Task<ApiResponse> CreateAsync(this Api api, object body)
    {
        var response = await api.PostAsync("transactions", body);
        Assert.True(response.Status == HttpStatusCode.Created, response.Text);
        return response;
    }

    /// <summary>An inflight hold; with <paramref name="skipQueue"/> false the answer is the QUEUED row.</summary>
    public static async Task<ApiResponse> HoldAsync(this Api api, string source, string destination, long preciseAmount,
        bool skipQueue = true, string? reference = null, object? extra = null)
    {
        var body = Transaction(source, destination, preciseAmount, reference ?? NewReference("hold"), skipQueue, extra);
        body["inflight"] = true;
        var response = await api.PostAsync("transactions", body);
        Assert.True(response.Status == HttpStatusCode.Created, response.Text);
        Assert.Equal(skipQueue ? "INFLIGHT" : "QUEUED", response.Str("status"));
        return response;
    }

    public static Task<ApiResponse> InflightAsync(this Api api, string id, object body) =>
        api.PutAsync($"transactions/inflight/{id}", body);

    /// <summary>A <c>skip_queue</c> commit body: everything remaining, or <paramref name="preciseAmount"/>.</summary>
    public static object SyncCommit(long? preciseAmount = null) => preciseAmount is { } amount
        ? new { status = "commit", precise_amount = amount, skip_queue = true }
        : new { status = "commit", skip_queue = true };

    /// <summary>A <c>skip_queue</c> void body.</summary>
    public static readonly object SyncVoid = new { status = "void", skip_queue = true };

    /// <summary>Polls until <paramref name="condition"/> holds; on timeout fails naming <paramref name="what"/>.
    /// </summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? PollTimeout);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            await Task.Delay(50);
        }
    }

    /// <summary>Polls a balance until its figures are <paramref name="expected"/>.</summary>
    public static async Task WaitForFiguresAsync(this Api api, string balanceId, BalanceFigures expected,
        TimeSpan? timeout = null)
    {
        BalanceFigures? last = null;
        var deadline = DateTime.UtcNow + (timeout ?? PollTimeout);
        while (true)
        {
            last = await api.FiguresAsync(balanceId);
            if (last == expected)
            {
                return;
            }
            Assert.True(DateTime.UtcNow < deadline, $"{balanceId}: expected {expected}, still {last}");
            await Task.Delay(50);
        }
    }

    /// <summary>Waits for a queued transaction's outcome (<c>&lt;reference&gt;_q</c>) and checks its status.</summary>
    public static async Task<ApiResponse> OutcomeAsync(this Api api, string reference, string expectedStatus)
    {
        var outcome = await api.WaitForReferenceAsync(reference + "_q", PollTimeout);
        Assert.True(outcome.Status == HttpStatusCode.OK, $"{reference}_q: {outcome.Text}");
        Assert.True(expectedStatus == outcome.Str("status"), $"{reference}_q: {outcome.Text}");
        return outcome;
    }

    /// <summary>Asserts that no transaction has <paramref name="reference"/>.</summary>
    public static async Task AssertNoReferenceAsync(this Api api, string reference)
    {
        var response = await api.GetAsync($"transactions/reference/{Uri.EscapeDataString(reference)}");
        Assert.True(response.Status == HttpStatusCode.NotFound, $"{reference} exists: {response.Text}");
    }

    /// <summary>The most recent rows (newest first) whose parent is <paramref name="parentId"/>.</summary>
    public static async Task<List<JsonElement>> ChildrenAsync(this Api api, string parentId, int scan = 200)
    {
        var list = await api.GetAsync($"transactions?limit={scan.ToString(CultureInfo.InvariantCulture)}");
        Assert.Equal(HttpStatusCode.OK, list.Status);
        return [.. list.Body.EnumerateArray()
            .Where(row => row.GetProperty("parent_transaction").GetString() == parentId)];
    }

    public static void AssertError(ApiResponse response, HttpStatusCode status, string code, string? message = null)
    {
        Assert.True(response.Status == status,
            $"expected {(int)status} {code}, got {(int)response.Status}: {response.Text}");
        Assert.Equal(code, response.ErrorCode);
        if (message is not null)
        {
            Assert.Equal(message, response.ErrorMessage);
        }
    }

    public static BigInteger Big(JsonElement element, string property) => Api.Money(element.GetProperty(property));

    /// <summary>A dry-run balance preview figure (strings on the wire).</summary>
    public static BigInteger PreviewFigure(JsonElement balance, string property) =>
        BigInteger.Parse(balance.GetProperty(property).GetString()!, NumberStyles.AllowLeadingSign,
            CultureInfo.InvariantCulture);

    public static JsonElement PreviewOf(ApiResponse preview, string balanceId) =>
        preview.Body.GetProperty("balances").EnumerateArray()
            .Single(balance => balance.GetProperty("balance_id").GetString() == balanceId);
}
