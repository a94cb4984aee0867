using System.Net;

namespace Blnk.Server.Tests;

// Covers /, /health, /ledgers and /balances over HTTP on both storages: shapes, statuses, error codes and texts.
// Transactions are covered in TransactionTests.
public sealed class LedgerAndBalanceTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Root_and_health_answer_without_a_key(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var root = await api.GetAsync("");
        Assert.Equal(HttpStatusCode.OK, root.Status);
        Assert.Equal("server running...", root.Body.GetString());
        var health = await api.GetAsync("health");
        Assert.Equal(HttpStatusCode.OK, health.Status);
        Assert.Equal("UP", health.Str("status"));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Unknown_route_is_a_plain_404(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var response = await api.GetAsync("no-such-route");
        Assert.Equal(HttpStatusCode.NotFound, response.Status);
        Assert.Equal("404 page not found", response.Text);
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Ledger_create_get_rename_and_list(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var created = await api.PostAsync("ledgers", new { name = "Wallets", meta_data = new { team = "a" } });
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var id = created.Str("ledger_id");
        Assert.StartsWith("ldg_", id);
        Assert.Equal("Wallets", created.Str("name"));
        Assert.Equal("a", created.Body.GetProperty("meta_data").GetProperty("team").GetString());
        Assert.EndsWith("Z", created.Str("created_at"));

        var fetched = await api.GetAsync($"ledgers/{id}");
        Assert.Equal(HttpStatusCode.OK, fetched.Status);
        Assert.Equal(created.Str("created_at"), fetched.Str("created_at"));

        var renamed = await api.PutAsync($"ledgers/{id}", new { name = "Escrow" });
        Assert.Equal(HttpStatusCode.OK, renamed.Status);
        Assert.Equal("Escrow", renamed.Str("name"));
        Assert.Equal(id, renamed.Str("ledger_id"));

        var page = await api.GetAsync("ledgers?limit=1&offset=0");
        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.Equal(1, page.Body.GetArrayLength());
        var all = await api.GetAsync("ledgers?limit=1000");
        Assert.Contains(all.Body.EnumerateArray(), ledger => ledger.GetProperty("ledger_id").GetString() == "general_ledger_id");
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Ledger_errors(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var missing = await api.GetAsync("ledgers/ldg_missing");
        Assert.Equal(HttpStatusCode.NotFound, missing.Status);
        Assert.Equal("LGR_NOT_FOUND", missing.ErrorCode);
        Assert.Equal("Ledger not found", missing.Body.GetProperty("error").GetString());

        var blank = await api.PostAsync("ledgers", new { name = "" });
        Assert.Equal(HttpStatusCode.BadRequest, blank.Status);
        Assert.Equal("name: cannot be blank.", blank.Body.GetProperty("errors").GetString());
        Assert.Equal("GEN_VALIDATION_ERROR", blank.ErrorCode);

        var malformed = await api.PostAsync("ledgers", "{\"name\": ");
        Assert.Equal(HttpStatusCode.BadRequest, malformed.Status);
        Assert.Equal("GEN_MALFORMED_REQUEST", malformed.ErrorCode);

        var badLimit = await api.GetAsync("ledgers?limit=abc");
        Assert.Equal(HttpStatusCode.BadRequest, badLimit.Status);
        Assert.Equal("Invalid limit value", badLimit.ErrorMessage);
        var badOffset = await api.GetAsync("ledgers?offset=-1");
        Assert.Equal("Invalid offset value", badOffset.ErrorMessage);

        var renameMissing = await api.PutAsync("ledgers/ldg_missing", new { name = "x" });
        Assert.Equal(HttpStatusCode.NotFound, renameMissing.Status);
        Assert.Equal("LGR_NOT_FOUND", renameMissing.ErrorCode);
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Balance_create_matches_blnk_response_shape(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var ledger = (await api.PostAsync("ledgers", new { name = "L" })).Str("ledger_id");
        var response = await api.PostAsync("balances", new { ledger_id = ledger, currency = "USD" });
        Assert.Equal(HttpStatusCode.Created, response.Status);
        var body = response.Body;
        foreach (var field in new[] { "balance", "inflight_balance", "credit_balance", "inflight_credit_balance",
                     "debit_balance", "inflight_debit_balance" })
        {
            Assert.Equal("0", body.GetProperty(field).GetRawText());
        }
        Assert.Equal(ledger, response.Str("ledger_id"));
        Assert.Equal("", response.Str("identity_id"));
        Assert.StartsWith("bln_", response.Str("balance_id"));
        Assert.Equal("USD", response.Str("currency"));
        Assert.Equal(System.Text.Json.JsonValueKind.Null, body.GetProperty("meta_data").ValueKind);
        Assert.Equal("0001-01-01T00:00:00Z", response.Str("inflight_expires_at"));
        Assert.Equal("FIFO", response.Str("allocation_strategy"));
        Assert.False(body.TryGetProperty("indicator", out _));

        var fetched = await api.GetAsync($"balances/{response.Str("balance_id")}?include=ledger");
        Assert.Equal(HttpStatusCode.OK, fetched.Status);
        Assert.Equal(ledger, fetched.Body.GetProperty("ledger").GetProperty("ledger_id").GetString());
        Assert.Equal(response.Str("created_at"), fetched.Str("created_at"));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Balance_create_errors(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var blank = await api.PostAsync("balances", new { meta_data = new { } });
        Assert.Equal(HttpStatusCode.BadRequest, blank.Status);
        Assert.Equal("BAL_VALIDATION_ERROR", blank.ErrorCode);
        Assert.Equal("currency: cannot be blank; ledger_id: cannot be blank.", blank.Body.GetProperty("errors").GetString());

        var unknownLedger = await api.PostAsync("balances", new { ledger_id = "ldg_nope", currency = "USD" });
        Assert.Equal(HttpStatusCode.BadRequest, unknownLedger.Status);
        Assert.Equal("GEN_BAD_REQUEST", unknownLedger.ErrorCode);
        Assert.Equal("Invalid ledger ID", unknownLedger.ErrorMessage);

        var unknownIdentity = await api.PostAsync("balances",
            new { ledger_id = "general_ledger_id", currency = "USD", identity_id = "idt_nope" });
        Assert.Equal("Invalid ledger ID", unknownIdentity.ErrorMessage);

        var strategy = await api.PostAsync("balances",
            new { ledger_id = "general_ledger_id", currency = "USD", allocation_strategy = "random" });
        Assert.Equal("allocation_strategy must be one of: FIFO, LIFO, PROPORTIONAL", strategy.ErrorMessage);

        var lineage = await api.PostAsync("balances",
            new { ledger_id = "general_ledger_id", currency = "USD", track_fund_lineage = true });
        Assert.Equal("identity_id is required when track_fund_lineage is enabled", lineage.ErrorMessage);

        var ledger = (await api.PostAsync("ledgers", new { name = "L" })).Str("ledger_id");
        var indicatorElsewhere = await api.PostAsync("balances", new { ledger_id = ledger, currency = "USD", indicator = "@x" });
        Assert.Equal("indicator is only allowed for General Ledger balances (ledger_id = general_ledger_id)",
            indicatorElsewhere.ErrorMessage);
        var badIndicator = await api.PostAsync("balances",
            new { ledger_id = "general_ledger_id", currency = "USD", indicator = "cash" });
        Assert.Equal("indicator must start with '@' and contain no whitespace (e.g. '@cash')", badIndicator.ErrorMessage);
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Indicator_balances_are_unique_per_currency_and_found_by_indicator(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var indicator = "@cash-" + Guid.NewGuid().ToString("N")[..8];
        var created = await api.PostAsync("balances", new { ledger_id = "general_ledger_id", currency = "USD", indicator });
        Assert.Equal(HttpStatusCode.Created, created.Status);
        Assert.Equal(indicator, created.Str("indicator"));
        var duplicate = await api.PostAsync("balances", new { ledger_id = "general_ledger_id", currency = "USD", indicator });
        Assert.Equal(HttpStatusCode.Conflict, duplicate.Status);
        Assert.Equal("GEN_CONFLICT", duplicate.ErrorCode);
        Assert.Equal($"Balance already exists for indicator '{indicator}' and 'USD'", duplicate.ErrorMessage);
        var otherCurrency = await api.PostAsync("balances", new { ledger_id = "general_ledger_id", currency = "EUR", indicator });
        Assert.Equal(HttpStatusCode.Created, otherCurrency.Status);

        var found = await api.GetAsync($"balances/indicator/{Uri.EscapeDataString(indicator)}/currency/USD");
        Assert.Equal(HttpStatusCode.OK, found.Status);
        Assert.Equal(created.Str("balance_id"), found.Str("balance_id"));
        var missing = await api.GetAsync("balances/indicator/@nobody/currency/USD");
        Assert.Equal(HttpStatusCode.NotFound, missing.Status);
        Assert.Equal("BAL_NOT_FOUND", missing.ErrorCode);
        Assert.Equal("balance with indicator '@nobody' not found", missing.ErrorMessage);
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Balance_get_and_list_errors(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var missing = await api.GetAsync("balances/bln_missing");
        Assert.Equal(HttpStatusCode.NotFound, missing.Status);
        Assert.Equal("BAL_NOT_FOUND", missing.ErrorCode);
        Assert.Equal("Balance with ID 'bln_missing' not found", missing.ErrorMessage);

        await api.CreateBalanceAsync();
        var page = await api.GetAsync("balances?limit=1");
        Assert.Equal(1, page.Body.GetArrayLength());
        var badLimit = await api.GetAsync("balances?limit=x");
        Assert.Equal(HttpStatusCode.BadRequest, badLimit.Status);
        Assert.Equal("invalid limit value", badLimit.ErrorMessage);
        var badOffset = await api.GetAsync("balances?offset=x");
        Assert.Equal("invalid offset value", badOffset.ErrorMessage);
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Metadata_keys_are_case_sensitive_and_the_last_duplicate_wins(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var ledger = await api.PostAsync("ledgers", """{"name": "m", "meta_data": {"a": 1, "A": 2, "n": {"b": 1, "b": 3}}}""");
        Assert.Equal(HttpStatusCode.Created, ledger.Status);
        var metaData = (await api.GetAsync($"ledgers/{ledger.Str("ledger_id")}")).Body.GetProperty("meta_data");
        Assert.Equal(1, metaData.GetProperty("a").GetInt32());
        Assert.Equal(2, metaData.GetProperty("A").GetInt32());
        Assert.Equal(3, metaData.GetProperty("n").GetProperty("b").GetInt32());
        var notAnObject = await api.PostAsync("balances", new { ledger_id = "general_ledger_id", currency = "USD", meta_data = new[] { 1 } });
        Assert.Equal(HttpStatusCode.BadRequest, notAnObject.Status);
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Responses_carry_security_headers(string dialect)
    {
        var server = await fixture.ServerAsync(dialect);
        using var response = await server.Client.GetAsync("health");
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("no-store", response.Headers.CacheControl!.ToString());
    }
}
