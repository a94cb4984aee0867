using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Blnk.TestSupport;

namespace Blnk.Server.Tests;

// Covers /identities and PUT /balances/{id}/identity over HTTP on both storages: shapes, partial updates,
// deletes refused while balances reference the identity, and the identity.created outbox row.
public sealed class IdentityTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private static readonly object s_fullIdentity = new
    {
        identity_type = "individual", organization_name = "Analytical Engines", category = "vip",
        first_name = "Ada", last_name = "Lovelace", other_names = "Augusta", gender = "female",
        email_address = "ada@example.com", phone_number = "+44 20 0000 0000", nationality = "GB",
        street = "12 St James's Square", country = "UK", state = "London", post_code = "SW1Y 4JH",
        city = "Westminster", dob = "1815-12-10T08:30:15.123456+01:00", created_at = "2001-01-01T00:00:00Z",
        meta_data = new { tier = 1, tags = new[] { "a", "b" } },
    };

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Create_with_a_generated_id_returns_every_field_and_get_returns_the_same(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);

        var created = await api.PostAsync("identities", s_fullIdentity);

        Assert.True(created.Status == HttpStatusCode.Created, created.Text);
        Assert.Matches("^idt_[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
            created.Str("identity_id"));
        Assert.Equal(["identity_id", "identity_type", "organization_name", "category", "first_name", "last_name",
                "other_names", "gender", "email_address", "phone_number", "nationality", "street", "country",
                "state", "post_code", "city", "dob", "created_at", "meta_data"],
            created.Body.EnumerateObject().Select(property => property.Name));
        Assert.Equal("Ada", created.Str("first_name"));
        Assert.Equal("SW1Y 4JH", created.Str("post_code"));
        Assert.Equal("1815-12-10T07:30:15.123456Z", created.Str("dob"));
        Assert.NotEqual("2001-01-01T00:00:00Z", created.Str("created_at"));
        Assert.Equal(1, created.Body.GetProperty("meta_data").GetProperty("tier").GetInt32());
        var fetched = await api.GetAsync($"identities/{created.Str("identity_id")}");
        Assert.Equal(HttpStatusCode.OK, fetched.Status);
        AssertSameJson(created.Text, fetched.Text);
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task An_empty_body_creates_an_identity_with_empty_fields(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);

        var created = await api.PostAsync("identities", new { });

        Assert.Equal(HttpStatusCode.Created, created.Status);
        Assert.Equal("", created.Str("first_name"));
        Assert.Equal("", created.Str("identity_type"));
        Assert.Equal("0001-01-01T00:00:00Z", created.Str("dob"));
        Assert.Equal(JsonValueKind.Null, created.Body.GetProperty("meta_data").ValueKind);
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_caller_supplied_id_is_used_once_and_must_be_idt_and_a_uuid(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var id = $"idt_{Guid.NewGuid().ToString().ToUpperInvariant()}";

        var created = await api.PostAsync("identities", new { identity_id = id, first_name = "Grace" });
        var duplicate = await api.PostAsync("identities", new { identity_id = id, first_name = "Other" });

        Assert.Equal(HttpStatusCode.Created, created.Status);
        Assert.Equal(id, created.Str("identity_id"));
        AssertError(duplicate, HttpStatusCode.BadRequest, "IDT_VALIDATION_ERROR", $"Identity already exists: {id}");
        Assert.Equal("Grace", (await api.GetAsync($"identities/{id}")).Str("first_name"));
        foreach (var badPrefix in new[] { "usr_" + Guid.NewGuid(), Guid.NewGuid().ToString(), "IDT_" + Guid.NewGuid() })
        {
            AssertError(await api.PostAsync("identities", new { identity_id = badPrefix }), HttpStatusCode.BadRequest,
                "IDT_VALIDATION_ERROR", "identity_id must start with the 'idt_' prefix");
        }
        var badUuids = new[] { "idt_", "idt_123", "idt_" + Guid.NewGuid().ToString("N"), $"idt_{Guid.NewGuid()}x",
            $"idt_{Guid.NewGuid()}\n" };
        foreach (var badUuid in badUuids)
        {
            AssertError(await api.PostAsync("identities", new { identity_id = badUuid }), HttpStatusCode.BadRequest,
                "IDT_VALIDATION_ERROR", "identity_id suffix after 'idt_' must be a valid UUID");
        }
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Bad_bodies_are_400s(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);

        foreach (var badDob in new[] { "1990-01-31", "31/01/1990", "1990-02-30T00:00:00Z" })
        {
            AssertError(await api.PostAsync("identities", new { dob = badDob }), HttpStatusCode.BadRequest,
                "IDT_VALIDATION_ERROR", "dob must be an RFC 3339 time (e.g., 1990-01-31T00:00:00Z)");
        }
        Assert.Equal("GEN_MALFORMED_REQUEST", (await api.PostAsync("identities", "{\"first_name\": ")).ErrorCode);
        Assert.Equal("GEN_MALFORMED_REQUEST", (await api.PostAsync("identities", "{\"first_name\": 7}")).ErrorCode);
        Assert.Equal("GEN_MALFORMED_REQUEST", (await api.PostAsync("identities", "{\"meta_data\": [1]}")).ErrorCode);
        Assert.Equal("GEN_MALFORMED_REQUEST", (await api.PostAsync("identities", "[]")).ErrorCode);
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task An_unknown_identity_is_a_404(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);

        AssertError(await api.GetAsync("identities/idt_missing"), HttpStatusCode.NotFound, "IDT_NOT_FOUND",
            "Identity with ID 'idt_missing' not found");
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task The_list_is_newest_first_and_pages(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add((await api.PostAsync("identities", new { first_name = $"List {i}" })).Str("identity_id"));
        }

        var all = await api.GetAsync("identities?limit=1000");
        var pageOfTwo = await api.GetAsync("identities?limit=2&offset=1");
        var badPaging = await api.GetAsync("identities?limit=abc&offset=-5");

        Assert.Equal(HttpStatusCode.OK, all.Status);
        var listed = IdsOf(all);
        Assert.Equal([ids[2], ids[1], ids[0]], listed.Where(ids.Contains));
        Assert.Equal(listed.Skip(1).Take(2), IdsOf(pageOfTwo));
        Assert.Equal(HttpStatusCode.OK, badPaging.Status);
        Assert.Equal(listed.Take(20), IdsOf(badPaging));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Update_writes_only_non_empty_fields_and_replaces_meta_data(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var id = (await api.PostAsync("identities", s_fullIdentity)).Str("identity_id");

        var updated = await api.PutAsync($"identities/{id}", new
        {
            first_name = "", last_name = "King", city = (string?)null, dob = "0001-01-01T00:00:00Z",
            meta_data = new { kyc = "done" }, identity_id = "idt_ignored",
        });
        var withDob = await api.PutAsync($"identities/{id}", new { dob = "1815-12-11T00:00:00Z" });

        Assert.Equal(HttpStatusCode.OK, updated.Status);
        Assert.Equal("Identity updated successfully", updated.Str("message"));
        Assert.Equal(HttpStatusCode.OK, withDob.Status);
        var stored = await api.GetAsync($"identities/{id}");
        Assert.Equal("Ada", stored.Str("first_name"));
        Assert.Equal("King", stored.Str("last_name"));
        Assert.Equal("Westminster", stored.Str("city"));
        Assert.Equal("1815-12-11T00:00:00Z", stored.Str("dob"));
        AssertSameJson("""{"kyc": "done"}""", stored.Body.GetProperty("meta_data").GetRawText());
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Update_with_nothing_to_write_is_a_400_and_of_an_unknown_id_a_404(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var id = (await api.PostAsync("identities", new { first_name = "Ada" })).Str("identity_id");

        foreach (var nothing in new object[] { new { }, new { first_name = "", dob = "0001-01-01T00:00:00Z" } })
        {
            AssertError(await api.PutAsync($"identities/{id}", nothing), HttpStatusCode.BadRequest, "GEN_BAD_REQUEST",
                "No fields provided for update");
        }
        AssertError(await api.PutAsync("identities/idt_missing", new { }), HttpStatusCode.BadRequest,
            "GEN_BAD_REQUEST", "No fields provided for update");
        AssertError(await api.PutAsync("identities/idt_missing", new { city = "Paris" }), HttpStatusCode.NotFound,
            "IDT_NOT_FOUND", "Identity with ID 'idt_missing' not found");
        AssertError(await api.PutAsync($"identities/{id}", new { dob = "yesterday" }), HttpStatusCode.BadRequest,
            "IDT_VALIDATION_ERROR", "dob must be an RFC 3339 time (e.g., 1990-01-31T00:00:00Z)");
        Assert.Equal("Ada", (await api.GetAsync($"identities/{id}")).Str("first_name"));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Delete_removes_an_identity_once(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var id = (await api.PostAsync("identities", new { first_name = "Gone" })).Str("identity_id");

        var deleted = await api.SendAsync(HttpMethod.Delete, $"identities/{id}", null);
        var again = await api.SendAsync(HttpMethod.Delete, $"identities/{id}", null);

        Assert.Equal(HttpStatusCode.OK, deleted.Status);
        Assert.Equal("Identity deleted successfully", deleted.Str("message"));
        AssertError(again, HttpStatusCode.NotFound, "IDT_NOT_FOUND", $"Identity with ID '{id}' not found");
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetAsync($"identities/{id}")).Status);
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Delete_of_an_identity_a_balance_references_is_a_409_and_changes_nothing(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var id = (await api.PostAsync("identities", new { first_name = "Kept" })).Str("identity_id");
        var balance = await api.PostAsync("balances",
            new { ledger_id = "general_ledger_id", currency = "USD", identity_id = id });
        Assert.Equal(HttpStatusCode.Created, balance.Status);

        var refused = await api.SendAsync(HttpMethod.Delete, $"identities/{id}", null);

        AssertError(refused, HttpStatusCode.Conflict, "GEN_CONFLICT",
            $"Identity with ID '{id}' cannot be deleted: balances (or their fund lineage) still reference it");
        Assert.Equal("Kept", (await api.GetAsync($"identities/{id}")).Str("first_name"));
        Assert.Equal(id, (await api.GetAsync($"balances/{balance.Str("balance_id")}")).Str("identity_id"));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_balance_is_linked_to_an_identity_and_include_identity_shows_it(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var identity = await api.PostAsync("identities", s_fullIdentity);
        var id = identity.Str("identity_id");
        var balanceId = await api.CreateBalanceAsync();

        var linked = await api.PutAsync($"balances/{balanceId}/identity", new { identity_id = id });

        Assert.Equal(HttpStatusCode.OK, linked.Status);
        Assert.Equal("Balance identity updated successfully", linked.Str("message"));
        var withIdentity = await api.GetAsync($"balances/{balanceId}?include=identity");
        Assert.Equal(id, withIdentity.Str("identity_id"));
        AssertSameJson(identity.Text, withIdentity.Body.GetProperty("identity").GetRawText());
        Assert.False((await api.GetAsync($"balances/{balanceId}")).Body.TryGetProperty("identity", out _));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Linking_errors_name_the_missing_identity_first(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var id = (await api.PostAsync("identities", new { first_name = "Link" })).Str("identity_id");
        var balanceId = await api.CreateBalanceAsync();

        AssertError(await api.PutAsync($"balances/{balanceId}/identity", new { }), HttpStatusCode.BadRequest,
            "GEN_VALIDATION_ERROR", "identity_id is required");
        AssertError(await api.PutAsync("balances/bln_missing/identity", new { identity_id = "idt_missing" }),
            HttpStatusCode.BadRequest, "BAL_VALIDATION_ERROR",
            "identity validation failed: Identity with ID 'idt_missing' not found");
        AssertError(await api.PutAsync("balances/bln_missing/identity", new { identity_id = id }),
            HttpStatusCode.BadRequest, "BAL_VALIDATION_ERROR",
            "balance validation failed: Balance with ID 'bln_missing' not found");
        Assert.Equal("", (await api.GetAsync($"balances/{balanceId}")).Str("identity_id"));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Identity_created_is_in_the_outbox_only_when_a_webhook_is_configured(string dialect)
    {
        var dataSource = await ServerFixture.NewDataSourceAsync(dialect);
        string quietId;
        await using (var quiet = await ServerProcess.StartAsync(dataSource))
        {
            var quietApi = new Api(quiet.Client);
            Assert.Equal("[]", (await quietApi.GetAsync("identities")).Text);
            quietId = (await quietApi.PostAsync("identities", new { first_name = "Quiet" })).Str("identity_id");
        }
        await using var server = await ServerProcess.StartAsync(dataSource,
            new Dictionary<string, string> { ["BLNK_WEBHOOK_URL"] = "http://127.0.0.1:9/hook" });
        var created = await new Api(server.Client).PostAsync("identities", s_fullIdentity);
        Assert.Equal(HttpStatusCode.Created, created.Status);

        var (eventName, payload, entityKey) = Assert.Single(await OutboxRowsAsync(dataSource));

        Assert.Equal("identity.created", eventName);
        Assert.Equal(created.Str("identity_id"), entityKey);
        Assert.NotEqual(quietId, entityKey);
        AssertSameJson(created.Text, payload);
    }

    // ---- helpers ----

    private static List<string> IdsOf(ApiResponse list) =>
        [.. list.Body.EnumerateArray().Select(identity => identity.GetProperty("identity_id").GetString()!)];

    private static void AssertError(ApiResponse response, HttpStatusCode status, string code, string message)
    {
        Assert.True(response.Status == status, $"expected {status}, got {response.Status}: {response.Text}");
        Assert.Equal(code, response.ErrorCode);
        Assert.Equal(message, response.ErrorMessage);
        Assert.Equal(message, response.Body.GetProperty("error").GetString());
    }

    /// <summary>JSON compared as values: PostgreSQL's jsonb reorders keys and respaces.</summary>
    private static void AssertSameJson(string expected, string actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), JsonNode.Parse(actual)),
            $"expected {expected}\nactual   {actual}");

    private static async Task<List<(string Event, string Payload, string EntityKey)>> OutboxRowsAsync(
        string dataSource)
    {
        await using var connection = await TestStores.OpenRawConnectionAsync(dataSource);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT event, payload, entity_key FROM webhook_outbox ORDER BY seq";
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(string, string, string)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        }
        return rows;
    }
}
