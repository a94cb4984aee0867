using System.Net;
using System.Text.Json;
using Blnk.TestSupport;

namespace Blnk.Server.Tests;

// Covers /balance-monitors over HTTP on both storages: every route, every validation error, precise_value
// computed like a transaction amount (decision 10: zeros allowed, PUT recomputes), and that a created, updated or
// deleted monitor takes effect at once (seen as callback rows in the webhook outbox). Evaluation itself is covered
// by MonitorEvaluationTests; delivery of the outbox belongs to the webhook dispatcher's tests.
public sealed class MonitorTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    /// <summary>The discard port on loopback: nothing listens, so no test ever calls out.</summary>
    private const string CallBackUrl = "http://127.0.0.1:9/monitor";

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Create_returns_the_monitor_and_get_returns_the_same(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var balance = await api.CreateBalanceAsync();

        var created = await api.PostAsync("balance-monitors", new
        {
            balance_id = balance, description = "low funds", call_back_url = CallBackUrl,
            condition = new { field = "balance", @operator = "<", value = 10.5, precision = 100 },
            meta_data = new { ignored = true },
        });

        Assert.Equal(HttpStatusCode.Created, created.Status);
        var id = created.Str("monitor_id");
        Assert.StartsWith("mon_", id);
        Assert.True(Guid.TryParse(id["mon_".Length..], out _));
        Assert.Equal(balance, created.Str("balance_id"));
        Assert.Equal("low funds", created.Str("description"));
        Assert.Equal(CallBackUrl, created.Str("call_back_url"));
        Assert.Equal("level", created.Str("trigger"));
        Assert.EndsWith("Z", created.Str("created_at"));
        var condition = created.Body.GetProperty("condition");
        Assert.Equal("balance", condition.GetProperty("field").GetString());
        Assert.Equal("<", condition.GetProperty("operator").GetString());
        Assert.Equal("10.5", condition.GetProperty("value").GetRawText());
        Assert.Equal("100", condition.GetProperty("precision").GetRawText());
        Assert.Equal("1050", condition.GetProperty("precise_value").GetRawText());
        Assert.False(created.Body.TryGetProperty("meta_data", out _));

        var fetched = await api.GetAsync($"balance-monitors/{id}");
        Assert.Equal(HttpStatusCode.OK, fetched.Status);
        Assert.Equal(created.Text, fetched.Text);
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Precise_value_is_value_times_precision_converted_like_a_transaction_amount(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var balance = await api.CreateBalanceAsync();
        // value, precision as sent (null: omitted), precision shown, precise_value
        (double Value, double? Precision, string ShownPrecision, string PreciseValue)[] cases =
        [
            (10.5, 100, "100", "1050"),
            (1.005, 100, "100", "101"),
            (-2.5, 100, "100", "-250"),
            (-0.005, 100, "100", "-1"),
            (0, 100, "100", "0"),
            (0, 0, "1", "0"),
            (7, 0, "1", "7"),
            (7.4, null, "1", "7"),
            (0.1, 1e18, "1000000000000000000", "100000000000000000"),
            (123456789012345, 1e10, "10000000000", "1234567890123450000000000"),
        ];
        foreach (var (value, precision, shownPrecision, preciseValue) in cases)
        {
            var condition = precision is null
                ? (object)new { field = "balance", @operator = ">", value }
                : new { field = "balance", @operator = ">", value, precision };
            var created = await api.PostAsync("balance-monitors", new { balance_id = balance, condition });

            Assert.True(created.Status == HttpStatusCode.Created, $"{value} × {precision}: {created.Text}");
            var shown = created.Body.GetProperty("condition");
            Assert.Equal(shownPrecision, shown.GetProperty("precision").GetRawText());
            Assert.Equal(preciseValue, shown.GetProperty("precise_value").GetRawText());
        }
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Every_operator_and_field_is_accepted_and_edge_is_a_trigger(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var balance = await api.CreateBalanceAsync();
        string[] fields = ["debit_balance", "credit_balance", "balance", "inflight_debit_balance",
            "inflight_credit_balance", "inflight_balance"];
        string[] operators = [">", "<", ">=", "<=", "=", "!="];

        for (var i = 0; i < fields.Length; i++)
        {
            var created = await api.PostAsync("balance-monitors", new
            {
                balance_id = balance, trigger = i % 2 == 0 ? "edge" : "level",
                condition = new { field = fields[i], @operator = operators[i], value = 1, precision = 100 },
            });
            Assert.True(created.Status == HttpStatusCode.Created, created.Text);
            Assert.Equal(i % 2 == 0 ? "edge" : "level", created.Str("trigger"));
            Assert.Equal(operators[i], created.Body.GetProperty("condition").GetProperty("operator").GetString());
        }
        var listed = await api.GetAsync($"balance-monitors/balances/{balance}");
        Assert.Equal(fields, listed.Body.EnumerateArray()
            .Select(monitor => monitor.GetProperty("condition").GetProperty("field").GetString()));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Create_validation_errors_name_every_bad_field(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var balance = await api.CreateBalanceAsync();
        const string operators = "must be one of >, <, >=, <=, =, !=";
        (object Body, string Message)[] cases =
        [
            (new { }, "balance_id: cannot be blank; condition: cannot be blank."),
            (new { balance_id = balance, condition = new { } },
                "condition: (field: cannot be blank; operator: cannot be blank; value: cannot be blank.)."),
            (Body(balance, new { field = "available", @operator = ">", value = 1 }),
                "condition: (field: must be a valid value.)."),
            (Body(balance, new { field = "balance", @operator = "==", value = 1 }),
                $"condition: (operator: {operators}.)."),
            (Body(balance, new { field = "balance", @operator = "=>", value = 1 }),
                $"condition: (operator: {operators}.)."),
            (Body(balance, new { field = "balance", @operator = ">", value = 1, precision = -1 }),
                "condition: (precision: must be no less than 0.)."),
            (Body(balance, new { field = "balance", @operator = ">", value = 1, precision = 2.5 }),
                "condition: (precision: must be a whole number.)."),
            (Body(balance, new { field = "balance", @operator = ">", value = 1234567890.123456 }),
                "condition: (value: must have at most 15 significant digits.)."),
            (Body(balance, new { field = "balance", @operator = ">", value = 1e50, precision = 1e20 }),
                "condition: (value: value × precision must have at most 63 digits.)."),
            (Raw(balance, "\"value\": 1e400"), "condition: (value: must be a finite number.)."),
            (Raw(balance, "\"value\": 1, \"precision\": -1e400"),
                "condition: (precision: must be a finite number.)."),
            (new { balance_id = balance, trigger = "sometimes", condition = Condition() },
                "trigger: must be \"level\" or \"edge\"."),
            (new { balance_id = balance, call_back_url = "not a url", condition = Condition() },
                "call_back_url: must be an absolute http or https URL."),
            (new { balance_id = balance, call_back_url = "ftp://example.com/x", condition = Condition() },
                "call_back_url: must be an absolute http or https URL."),
            (new { balance_id = balance, call_back_url = "/relative", condition = Condition() },
                "call_back_url: must be an absolute http or https URL."),
            (new { balance_id = balance, call_back_url = "https://example.com/" + new string('a', 2100),
                condition = Condition() }, "call_back_url: must be at most 2048 characters."),
            (new { balance_id = new string('b', 300), condition = Condition() },
                "balance_id: the length must be no more than 256."),
        ];
        foreach (var (body, message) in cases)
        {
            var response = await api.PostAsync("balance-monitors", body);

            Assert.True(response.Status == HttpStatusCode.BadRequest, $"{Describe(body)}: {response.Text}");
            Assert.Equal("GEN_VALIDATION_ERROR", response.ErrorCode);
            Assert.Equal(message, response.Body.GetProperty("errors").GetString());
            Assert.Equal(message, response.ErrorMessage);
        }
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Unknown_balance_and_malformed_bodies_are_400s_never_500s(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);

        var unknown = await api.PostAsync("balance-monitors",
            new { balance_id = "bln_missing", condition = Condition() });
        Assert.Equal(HttpStatusCode.BadRequest, unknown.Status);
        Assert.Equal("GEN_BAD_REQUEST", unknown.ErrorCode);
        Assert.Equal("Invalid balance ID", unknown.Body.GetProperty("error").GetString());

        string[] malformed =
        [
            "{\"balance_id\": ", "[]", "null", "\"monitor\"", "{\"balance_id\": 5}", "{\"condition\": []}",
            "{\"condition\": {\"value\": \"10\"}}",
            "{\"condition\": {\"precision\": true}}", "{\"balance_id\": \"a\\u0000b\"}",
        ];
        foreach (var body in malformed)
        {
            var response = await api.PostAsync("balance-monitors", body);
            Assert.True(response.Status == HttpStatusCode.BadRequest, $"{body}: {response.Text}");
            Assert.Equal("GEN_MALFORMED_REQUEST", response.ErrorCode);
            Assert.True(response.Body.TryGetProperty("error", out _), response.Text);
        }
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Lists_return_all_monitors_or_one_balance_s(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var (a, b) = (await api.CreateBalanceAsync(), await api.CreateBalanceAsync());
        var first = await CreateAsync(api, a);
        var second = await CreateAsync(api, a);
        var other = await CreateAsync(api, b);

        var all = await api.GetAsync("balance-monitors");
        Assert.Equal(HttpStatusCode.OK, all.Status);
        var allIds = Ids(all);
        Assert.Contains(first, allIds);
        Assert.Contains(second, allIds);
        Assert.Contains(other, allIds);

        var ofA = await api.GetAsync($"balance-monitors/balances/{a}");
        Assert.Equal(HttpStatusCode.OK, ofA.Status);
        Assert.Equal([first, second], Ids(ofA));
        Assert.Equal([other], Ids(await api.GetAsync($"balance-monitors/balances/{b}")));

        var none = await api.GetAsync("balance-monitors/balances/bln_missing");
        Assert.Equal(HttpStatusCode.OK, none.Status);
        Assert.Equal("[]", none.Text);
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Update_replaces_the_monitor_recomputes_precise_value_and_keeps_id_and_created_at(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var (a, b) = (await api.CreateBalanceAsync(), await api.CreateBalanceAsync());
        var created = await api.PostAsync("balance-monitors", new
        {
            balance_id = a, description = "before", call_back_url = CallBackUrl,
            condition = new { field = "balance", @operator = ">", value = 1, precision = 100 },
        });
        var id = created.Str("monitor_id");

        var updated = await api.PutAsync($"balance-monitors/{id}", new
        {
            balance_id = b, description = "after", trigger = "edge",
            condition = new { field = "debit_balance", @operator = "<=", value = 20.25, precision = 1000 },
        });

        Assert.Equal(HttpStatusCode.OK, updated.Status);
        Assert.Equal("{\"message\":\"BalanceMonitor updated successfully\"}", updated.Text);
        var fetched = await api.GetAsync($"balance-monitors/{id}");
        Assert.Equal(id, fetched.Str("monitor_id"));
        Assert.Equal(created.Str("created_at"), fetched.Str("created_at"));
        Assert.Equal(b, fetched.Str("balance_id"));
        Assert.Equal("after", fetched.Str("description"));
        Assert.Equal("edge", fetched.Str("trigger"));
        Assert.False(fetched.Body.TryGetProperty("call_back_url", out _));
        var condition = fetched.Body.GetProperty("condition");
        Assert.Equal("debit_balance", condition.GetProperty("field").GetString());
        Assert.Equal("<=", condition.GetProperty("operator").GetString());
        Assert.Equal("20.25", condition.GetProperty("value").GetRawText());
        Assert.Equal("1000", condition.GetProperty("precision").GetRawText());
        Assert.Equal("20250", condition.GetProperty("precise_value").GetRawText());
        Assert.Equal("[]", (await api.GetAsync($"balance-monitors/balances/{a}")).Text);
        Assert.Equal([id], Ids(await api.GetAsync($"balance-monitors/balances/{b}")));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Update_errors(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var balance = await api.CreateBalanceAsync();
        var id = await CreateAsync(api, balance);

        var missing = await api.PutAsync("balance-monitors/mon_missing",
            new { balance_id = balance, condition = Condition() });
        Assert.Equal(HttpStatusCode.NotFound, missing.Status);
        Assert.Equal("BAL_MONITOR_NOT_FOUND", missing.ErrorCode);
        Assert.Equal("Monitor with ID 'mon_missing' not found", missing.Body.GetProperty("error").GetString());

        var invalid = await api.PutAsync($"balance-monitors/{id}",
            Body(balance, new { field = "balance", @operator = "~" }));
        Assert.Equal(HttpStatusCode.BadRequest, invalid.Status);
        Assert.Equal("GEN_VALIDATION_ERROR", invalid.ErrorCode);
        Assert.Equal("condition: (operator: must be one of >, <, >=, <=, =, !=; value: cannot be blank.).",
            invalid.Body.GetProperty("error").GetString());

        var unknownBalance = await api.PutAsync($"balance-monitors/{id}",
            new { balance_id = "bln_missing", condition = Condition() });
        Assert.Equal(HttpStatusCode.BadRequest, unknownBalance.Status);
        Assert.Equal("GEN_BAD_REQUEST", unknownBalance.ErrorCode);
        Assert.Equal("Invalid balance ID", unknownBalance.ErrorMessage);

        var malformed = await api.PutAsync($"balance-monitors/{id}", "{");
        Assert.Equal(HttpStatusCode.BadRequest, malformed.Status);
        Assert.Equal("GEN_MALFORMED_REQUEST", malformed.ErrorCode);

        Assert.Equal(balance, (await api.GetAsync($"balance-monitors/{id}")).Str("balance_id"));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Delete_then_get_and_delete_are_404(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var balance = await api.CreateBalanceAsync();
        var id = await CreateAsync(api, balance);

        var deleted = await api.SendAsync(HttpMethod.Delete, $"balance-monitors/{id}", null);
        Assert.Equal(HttpStatusCode.OK, deleted.Status);
        Assert.Equal("{\"message\":\"BalanceMonitor deleted successfully\"}", deleted.Text);

        var expected = $"Monitor with ID '{id}' not found";
        var get = await api.GetAsync($"balance-monitors/{id}");
        Assert.Equal(HttpStatusCode.NotFound, get.Status);
        Assert.Equal("BAL_MONITOR_NOT_FOUND", get.ErrorCode);
        Assert.Equal(expected, get.ErrorMessage);
        var again = await api.SendAsync(HttpMethod.Delete, $"balance-monitors/{id}", null);
        Assert.Equal(HttpStatusCode.NotFound, again.Status);
        Assert.Equal("BAL_MONITOR_NOT_FOUND", again.ErrorCode);
        Assert.Equal(expected, again.Body.GetProperty("error").GetString());
        Assert.Equal("[]", (await api.GetAsync($"balance-monitors/balances/{balance}")).Text);
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Created_updated_and_deleted_monitors_take_effect_at_once(string dialect)
    {
        var dataSource = await ServerFixture.NewDataSourceAsync(dialect);
        await using var server = await ServerProcess.StartAsync(dataSource);
        var api = new Api(server.Client);
        Assert.Equal("[]", (await api.GetAsync("balance-monitors")).Text);
        var balance = await api.CreateBalanceAsync();
        var level = await CreateAsync(api, balance, ">", 10, "level");
        var edge = await CreateAsync(api, balance, ">=", 12, "edge");

        async Task FundThenExpectAsync(long preciseAmount, long levelCalls, long edgeCalls)
        {
            await api.FundAsync(balance, preciseAmount);
            Assert.Equal(levelCalls, await OutboxProbe.MonitorCallbacksAsync(dataSource, level));
            Assert.Equal(edgeCalls, await OutboxProbe.MonitorCallbacksAsync(dataSource, edge));
        }

        await FundThenExpectAsync(600, 0, 0);   // 600: neither holds.
        await FundThenExpectAsync(600, 1, 1);   // 1200: both start to hold.
        await FundThenExpectAsync(1, 2, 1);     // 1201: level fires again, edge does not.
        var moved = await api.PutAsync($"balance-monitors/{edge}", new
        {
            balance_id = balance, call_back_url = CallBackUrl, trigger = "edge",
            condition = new { field = "balance", @operator = ">=", value = 13, precision = 100 },
        });
        Assert.Equal(HttpStatusCode.OK, moved.Status);
        await FundThenExpectAsync(98, 3, 1);    // 1299: below the new threshold of 1300.
        await FundThenExpectAsync(1, 4, 2);     // 1300: the updated edge monitor fires.
        var deleted = await api.SendAsync(HttpMethod.Delete, $"balance-monitors/{level}", null);
        Assert.Equal(HttpStatusCode.OK, deleted.Status);
        await FundThenExpectAsync(1, 4, 2);     // 1301: the deleted monitor is gone.
    }

    private static async Task<string> CreateAsync(Api api, string balanceId, string @operator = ">", double value = 1,
        string trigger = "level")
    {
        var response = await api.PostAsync("balance-monitors", new
        {
            balance_id = balanceId, call_back_url = CallBackUrl, trigger,
            condition = new { field = "balance", @operator, value, precision = 100 },
        });
        Assert.True(response.Status == HttpStatusCode.Created, response.Text);
        return response.Str("monitor_id");
    }

    private static string Describe(object body) => body as string ?? JsonSerializer.Serialize(body);

    private static object Condition() => new { field = "balance", @operator = ">", value = 1, precision = 100 };

    private static object Body(string balanceId, object condition) => new { balance_id = balanceId, condition };

    /// <summary>A body whose condition holds numbers no C# value serializes to (such as 1e400).</summary>
    private static string Raw(string balanceId, string numbers) =>
        $"{{\"balance_id\": \"{balanceId}\", " +
        $"\"condition\": {{\"field\": \"balance\", \"operator\": \">\", {numbers}}}}}";

    private static List<string> Ids(ApiResponse response) =>
        [.. response.Body.EnumerateArray().Select(monitor => monitor.GetProperty("monitor_id").GetString()!)];
}
