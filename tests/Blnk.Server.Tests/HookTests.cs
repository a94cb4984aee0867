using System.Net;
using System.Text.Json;
using Blnk.TestSupport;

namespace Blnk.Server.Tests;

// Covers /hooks over HTTP on both storages: the hook JSON of §4.9, Blnk's defaults and cap, every validation error
// in Blnk's legacy hook error shape (but 400 where Blnk answers 500), the type filter, the master key in secure mode,
// and that hook changes reach the writer at once (hook call rows in the webhook outbox). Calling the hooks belongs to
// the webhook dispatcher's tests.
public sealed class HookTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    /// <summary>The discard port on loopback: nothing listens, so no test ever calls out.</summary>
    private const string HookUrl = "http://127.0.0.1:9/hook";

    private const string Secret = "test-master-key";

    private static readonly string[] HookFields =
        ["id", "name", "url", "type", "active", "timeout", "retry_count", "created_at", "last_run", "last_success"];

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Create_returns_the_hook_exactly_and_get_returns_the_same(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);

        var created = await api.PostAsync("hooks", new
        {
            name = "fraud check", url = HookUrl, type = "PRE_TRANSACTION", active = true, timeout = 5, retry_count = 2,
        });

        Assert.Equal(HttpStatusCode.Created, created.Status);
        Assert.Equal(HookFields, created.Body.EnumerateObject().Select(property => property.Name));
        var id = created.Str("id");
        Assert.StartsWith("hook_", id);
        Assert.True(Guid.TryParse(id["hook_".Length..], out _));
        Assert.Equal("fraud check", created.Str("name"));
        Assert.Equal(HookUrl, created.Str("url"));
        Assert.Equal("PRE_TRANSACTION", created.Str("type"));
        Assert.True(created.Body.GetProperty("active").GetBoolean());
        Assert.Equal(5, created.Body.GetProperty("timeout").GetInt32());
        Assert.Equal(2, created.Body.GetProperty("retry_count").GetInt32());
        Assert.EndsWith("Z", created.Str("created_at"));
        Assert.Equal("0001-01-01T00:00:00Z", created.Str("last_run"));
        Assert.False(created.Body.GetProperty("last_success").GetBoolean());

        var fetched = await api.GetAsync($"hooks/{id}");
        Assert.Equal(HttpStatusCode.OK, fetched.Status);
        Assert.Equal(created.Text, fetched.Text);
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Timeout_and_retry_count_get_blnk_s_defaults_and_cap(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        // timeout sent, retry_count sent (null: omitted), timeout kept, retry_count kept
        (int? Timeout, int? RetryCount, int ExpectedTimeout, int ExpectedRetryCount)[] cases =
        [
            (null, null, 30, 0),
            (0, 0, 30, 0),
            (-5, -1, 30, 3),
            (1, 10, 1, 10),
            (120, 11, 120, 10),
            (30, int.MaxValue, 30, 10),
        ];
        foreach (var (timeout, retryCount, expectedTimeout, expectedRetryCount) in cases)
        {
            var body = new Dictionary<string, object> { ["url"] = HookUrl, ["type"] = "POST_TRANSACTION" };
            if (timeout is not null)
            {
                body["timeout"] = timeout;
            }
            if (retryCount is not null)
            {
                body["retry_count"] = retryCount;
            }

            var created = await api.PostAsync("hooks", body);

            Assert.True(created.Status == HttpStatusCode.Created, created.Text);
            Assert.Equal(expectedTimeout, created.Body.GetProperty("timeout").GetInt32());
            Assert.Equal(expectedRetryCount, created.Body.GetProperty("retry_count").GetInt32());
            Assert.False(created.Body.GetProperty("active").GetBoolean());
            Assert.Equal("", created.Str("name"));
        }
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Refused_hooks_are_400_hook_invalid_in_the_legacy_hook_shape(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        (object Body, string Message)[] cases =
        [
            (new { type = "PRE_TRANSACTION" }, "hook URL is required"),
            (new { url = "", type = "PRE_TRANSACTION" }, "hook URL is required"),
            (new { url = "example.com/hook", type = "PRE_TRANSACTION" },
                "hook URL must be an absolute http or https URL"),
            (new { url = "ftp://example.com/hook", type = "PRE_TRANSACTION" },
                "hook URL must be an absolute http or https URL"),
            (new { url = "https://example.com/" + new string('a', 2100), type = "PRE_TRANSACTION" },
                "hook URL must be at most 2048 characters"),
            (new { url = HookUrl }, "invalid hook type: "),
            (new { url = HookUrl, type = "pre_transaction" }, "invalid hook type: pre_transaction"),
            (new { url = HookUrl, type = "MID_TRANSACTION" }, "invalid hook type: MID_TRANSACTION"),
        ];
        foreach (var (body, message) in cases)
        {
            var response = await api.PostAsync("hooks", body);

            Assert.True(response.Status == HttpStatusCode.BadRequest,
                $"{JsonSerializer.Serialize(body)}: {response.Text}");
            AssertHookError(response, "INVALID_INPUT", "HOOK_INVALID", message);
        }
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Malformed_hook_data_is_400_invalid_hook_data(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        string[] malformed =
        [
            "{\"url\": ", "[]", "null", "{\"url\": 5}", "{\"timeout\": \"30\"}", "{\"timeout\": 1.5}",
            "{\"retry_count\": 99999999999}", "{\"active\": \"yes\"}",
        ];
        foreach (var body in malformed)
        {
            var response = await api.PostAsync("hooks", body);

            Assert.True(response.Status == HttpStatusCode.BadRequest, $"{body}: {response.Text}");
            AssertHookError(response, "INVALID_INPUT", "HOOK_INVALID", "invalid hook data");
            Assert.True(response.Body.GetProperty("details").TryGetProperty("reason", out _), response.Text);
        }
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Get_of_an_unknown_hook_is_404_hook_not_found(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);

        var response = await api.GetAsync("hooks/hook_missing");

        Assert.Equal(HttpStatusCode.NotFound, response.Status);
        AssertHookError(response, "NOT_FOUND", "HOOK_NOT_FOUND", "hook not found");
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Update_replaces_the_settings_and_keeps_id_created_at_and_last_run(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var created = await api.PostAsync("hooks", new { name = "a", url = HookUrl, type = "PRE_TRANSACTION" });
        var id = created.Str("id");

        var updated = await api.PutAsync($"hooks/{id}", new
        {
            id = "hook_other", name = "b", url = "https://example.com/b", type = "POST_TRANSACTION", active = true,
            timeout = -1, retry_count = 50, created_at = "2020-01-01T00:00:00Z", last_success = true,
        });

        Assert.Equal(HttpStatusCode.OK, updated.Status);
        Assert.Equal(HookFields, updated.Body.EnumerateObject().Select(property => property.Name));
        Assert.Equal(id, updated.Str("id"));
        Assert.Equal(created.Str("created_at"), updated.Str("created_at"));
        Assert.Equal("0001-01-01T00:00:00Z", updated.Str("last_run"));
        Assert.False(updated.Body.GetProperty("last_success").GetBoolean());
        Assert.Equal("b", updated.Str("name"));
        Assert.Equal("https://example.com/b", updated.Str("url"));
        Assert.Equal("POST_TRANSACTION", updated.Str("type"));
        Assert.True(updated.Body.GetProperty("active").GetBoolean());
        Assert.Equal(30, updated.Body.GetProperty("timeout").GetInt32());
        Assert.Equal(10, updated.Body.GetProperty("retry_count").GetInt32());
        Assert.Equal(updated.Text, (await api.GetAsync($"hooks/{id}")).Text);
        Assert.DoesNotContain(id, Ids(await api.GetAsync("hooks?type=PRE_TRANSACTION")));
        Assert.Contains(id, Ids(await api.GetAsync("hooks?type=POST_TRANSACTION")));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Update_errors(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var id = (await api.PostAsync("hooks", new { url = HookUrl, type = "PRE_TRANSACTION" })).Str("id");

        var missing = await api.PutAsync("hooks/hook_missing", new { url = HookUrl, type = "PRE_TRANSACTION" });
        Assert.Equal(HttpStatusCode.NotFound, missing.Status);
        AssertHookError(missing, "NOT_FOUND", "HOOK_NOT_FOUND", "hook not found");

        var invalid = await api.PutAsync($"hooks/{id}", new { url = HookUrl, type = "LATER" });
        Assert.Equal(HttpStatusCode.BadRequest, invalid.Status);
        AssertHookError(invalid, "INVALID_INPUT", "HOOK_INVALID", "invalid hook type: LATER");

        var malformed = await api.PutAsync($"hooks/{id}", "{");
        Assert.Equal(HttpStatusCode.BadRequest, malformed.Status);
        AssertHookError(malformed, "INVALID_INPUT", "HOOK_INVALID", "invalid hook data");

        Assert.Equal("PRE_TRANSACTION", (await api.GetAsync($"hooks/{id}")).Str("type"));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task List_filters_by_type_and_refuses_an_unknown_type(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var pre = (await api.PostAsync("hooks", new { url = HookUrl, type = "PRE_TRANSACTION" })).Str("id");
        var post = (await api.PostAsync("hooks", new { url = HookUrl, type = "POST_TRANSACTION" })).Str("id");

        var all = await api.GetAsync("hooks");
        Assert.Equal(HttpStatusCode.OK, all.Status);
        Assert.Contains(pre, Ids(all));
        Assert.Contains(post, Ids(all));
        Assert.Equal(Ids(all), Ids(await api.GetAsync("hooks?type=")));

        var preOnly = await api.GetAsync("hooks?type=PRE_TRANSACTION");
        Assert.Equal(HttpStatusCode.OK, preOnly.Status);
        Assert.Contains(pre, Ids(preOnly));
        Assert.DoesNotContain(post, Ids(preOnly));
        Assert.All(preOnly.Body.EnumerateArray(), hook => Assert.Equal("PRE_TRANSACTION",
            hook.GetProperty("type").GetString()));
        var postOnly = await api.GetAsync("hooks?type=POST_TRANSACTION");
        Assert.Contains(post, Ids(postOnly));
        Assert.DoesNotContain(pre, Ids(postOnly));

        var unknown = await api.GetAsync("hooks?type=ANY");
        Assert.Equal(HttpStatusCode.BadRequest, unknown.Status);
        AssertHookError(unknown, "INVALID_INPUT", "HOOK_INVALID", "invalid hook type: ANY");
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Delete_then_get_and_delete_are_404(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var id = (await api.PostAsync("hooks", new { url = HookUrl, type = "PRE_TRANSACTION" })).Str("id");

        var deleted = await api.SendAsync(HttpMethod.Delete, $"hooks/{id}", null);

        Assert.Equal(HttpStatusCode.OK, deleted.Status);
        Assert.Equal("{\"message\":\"hook deleted successfully\"}", deleted.Text);
        AssertHookError(await api.GetAsync($"hooks/{id}"), "NOT_FOUND", "HOOK_NOT_FOUND", "hook not found");
        var again = await api.SendAsync(HttpMethod.Delete, $"hooks/{id}", null);
        Assert.Equal(HttpStatusCode.NotFound, again.Status);
        AssertHookError(again, "NOT_FOUND", "HOOK_NOT_FOUND", "hook not found");
        Assert.DoesNotContain(id, Ids(await api.GetAsync("hooks")));
    }

    [Fact]
    public async Task Secure_mode_needs_the_master_key_and_empty_lists_are_arrays()
    {
        await using var server = await ServerProcess.StartAsync(ServerProcess.NewSqliteDns(),
            new Dictionary<string, string> { ["BLNK_SERVER_SECURE"] = "true", ["BLNK_SERVER_SECRET_KEY"] = Secret });
        var api = new Api(server.Client);
        var master = new Dictionary<string, string> { ["X-Blnk-Key"] = Secret };

        var withoutKey = await api.PostAsync("hooks", new { url = HookUrl, type = "PRE_TRANSACTION" });
        Assert.Equal(HttpStatusCode.Unauthorized, withoutKey.Status);
        Assert.Equal("AUTH_MISSING_API_KEY", withoutKey.ErrorCode);
        var wrongKey = await api.SendAsync(HttpMethod.Get, "hooks", null,
            new Dictionary<string, string> { ["X-Blnk-Key"] = "nope" });
        Assert.Equal(HttpStatusCode.Unauthorized, wrongKey.Status);

        Assert.Equal("[]", (await api.SendAsync(HttpMethod.Get, "hooks", null, master)).Text);
        Assert.Equal("[]", (await api.SendAsync(HttpMethod.Get, "balance-monitors", null, master)).Text);
        var created = await api.SendAsync(HttpMethod.Post, "hooks", new { url = HookUrl, type = "PRE_TRANSACTION" },
            master);
        Assert.Equal(HttpStatusCode.Created, created.Status);
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Created_updated_and_deleted_hooks_reach_the_writer_at_once(string dialect)
    {
        var dataSource = await ServerFixture.NewDataSourceAsync(dialect);
        await using var server = await ServerProcess.StartAsync(dataSource);
        var api = new Api(server.Client);
        var balance = await api.CreateBalanceAsync();
        var id = (await api.PostAsync("hooks", new { url = HookUrl, type = "POST_TRANSACTION", active = true }))
            .Str("id");

        async Task FundThenExpectAsync(long hookCalls)
        {
            await api.FundAsync(balance, 100);
            Assert.Equal(hookCalls, await OutboxProbe.HookCallsAsync(dataSource, id));
        }

        await FundThenExpectAsync(1);
        var deactivated = await api.PutAsync($"hooks/{id}", new { url = HookUrl, type = "POST_TRANSACTION" });
        Assert.Equal(HttpStatusCode.OK, deactivated.Status);
        await FundThenExpectAsync(1);
        var activated = await api.PutAsync($"hooks/{id}",
            new { url = HookUrl, type = "PRE_TRANSACTION", active = true });
        Assert.Equal(HttpStatusCode.OK, activated.Status);
        await FundThenExpectAsync(2);
        Assert.Equal(HttpStatusCode.OK, (await api.SendAsync(HttpMethod.Delete, $"hooks/{id}", null)).Status);
        await FundThenExpectAsync(2);
    }

    /// <summary>Blnk's hook error body: legacy code, message and details on top, <c>error_detail</c> beside.</summary>
    private static void AssertHookError(ApiResponse response, string legacyCode, string code, string message)
    {
        Assert.Equal(legacyCode, response.Body.GetProperty("code").GetString());
        Assert.Equal(message, response.Body.GetProperty("message").GetString());
        Assert.Equal(JsonValueKind.Object, response.Body.GetProperty("details").ValueKind);
        Assert.False(response.Body.TryGetProperty("error", out _), response.Text);
        Assert.Equal(code, response.ErrorCode);
        Assert.Equal(message, response.ErrorMessage);
    }

    private static List<string> Ids(ApiResponse response) =>
        [.. response.Body.EnumerateArray().Select(hook => hook.GetProperty("id").GetString()!)];
}
