using Blnk.Core.Balances;
using Blnk.Core.Identities;
using Blnk.Core.Ledgers;
using Blnk.TestSupport;

namespace Blnk.Storage.Tests;

// The identity part of the storage port, on SQLite and a real PostgreSQL: insert (with its outbox events),
// list, partial update, delete (refused while referenced) and linking a balance.
public sealed class IdentityConformanceTests
{
    private static CancellationToken Ct => CancellationToken.None;

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Identity_insert_then_get_returns_every_field(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var identity = FullIdentity();

        Assert.Equal(IdentityInsertOutcome.Inserted, await store.InsertIdentityAsync(identity, Ct));

        var stored = await store.GetIdentityAsync(identity.IdentityId, Ct);
        Assert.NotNull(stored);
        Assert.Equal(identity with { MetaDataJson = null }, stored with { MetaDataJson = null });
        Assert.Equal(DateTimeKind.Utc, stored.Dob!.Value.Kind);
        AssertSameJson(identity.MetaDataJson!, stored.MetaDataJson!);
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Unset_text_is_empty_and_unset_dob_and_meta_data_are_null(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var identity = NewIdentity();

        await store.InsertIdentityAsync(identity, Ct);

        Assert.Equal(identity, await store.GetIdentityAsync(identity.IdentityId, Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task A_taken_id_is_DuplicateId_keeps_the_first_and_records_no_event(string dialect)
    {
        var (store, dataSource) = await TestStores.CreateWithDataSourceAsync(dialect);
        await using var _ = store;
        var first = NewIdentity() with { FirstName = "First" };
        var second = first with { FirstName = "Second" };

        Assert.Equal(IdentityInsertOutcome.Inserted, await store.InsertIdentityAsync(first, Ct, Created(first)));
        Assert.Equal(IdentityInsertOutcome.DuplicateId, await store.InsertIdentityAsync(second, Ct, Created(second)));

        Assert.Equal("First", (await store.GetIdentityAsync(first.IdentityId, Ct))!.FirstName);
        var (eventName, payload, entityKey) = Assert.Single(await OutboxRowsAsync(dataSource));
        Assert.Equal("identity.created", eventName);
        Assert.Equal(first.IdentityId, entityKey);
        Assert.Contains("First", payload, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Identity_list_is_newest_first_with_limit_and_offset(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var start = LedgerStoreConformanceTests.Now();
        for (var i = 1; i <= 3; i++)
        {
            await store.InsertIdentityAsync(NewIdentity($"idt_{i}") with { CreatedAt = start.AddSeconds(i) }, Ct);
        }

        Assert.Equal(["idt_3", "idt_2"], (await store.ListIdentitiesAsync(2, 0, Ct)).Select(i => i.IdentityId));
        Assert.Equal(["idt_1"], (await store.ListIdentitiesAsync(2, 2, Ct)).Select(i => i.IdentityId));
        Assert.Empty(await store.ListIdentitiesAsync(2, 3, Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Update_writes_only_the_given_fields_and_replaces_meta_data(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var identity = FullIdentity();
        await store.InsertIdentityAsync(identity, Ct);
        var dob = new DateTime(1815, 12, 10, 0, 0, 0, DateTimeKind.Utc);

        Assert.True(await store.UpdateIdentityAsync(identity.IdentityId,
            new IdentityChanges { City = "London", Dob = dob, MetaDataJson = """{"tier": 2}""" }, Ct));
        Assert.True(await store.UpdateIdentityAsync(identity.IdentityId,
            new IdentityChanges { LastName = "King" }, Ct));

        var stored = (await store.GetIdentityAsync(identity.IdentityId, Ct))!;
        var expected = identity with { City = "London", LastName = "King", Dob = dob, MetaDataJson = null };
        Assert.Equal(expected, stored with { MetaDataJson = null });
        AssertSameJson("""{"tier": 2}""", stored.MetaDataJson!);
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Update_of_an_unknown_identity_is_false(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);

        Assert.False(await store.UpdateIdentityAsync("idt_missing", new IdentityChanges { City = "Paris" }, Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Delete_removes_once_and_is_refused_while_a_balance_references_the_identity(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (free, linked) = (NewIdentity(), NewIdentity());
        await store.InsertIdentityAsync(free, Ct);
        await store.InsertIdentityAsync(linked, Ct);
        await store.InsertBalanceAsync(NewBalance(linked.IdentityId), Ct);

        Assert.Equal(IdentityDeleteOutcome.Deleted, await store.DeleteIdentityAsync(free.IdentityId, Ct));
        Assert.Equal(IdentityDeleteOutcome.NotFound, await store.DeleteIdentityAsync(free.IdentityId, Ct));
        Assert.Equal(IdentityDeleteOutcome.StillReferenced, await store.DeleteIdentityAsync(linked.IdentityId, Ct));

        Assert.Null(await store.GetIdentityAsync(free.IdentityId, Ct));
        Assert.Equal(linked, await store.GetIdentityAsync(linked.IdentityId, Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Linking_checks_the_identity_first_then_the_balance(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var identity = NewIdentity();
        await store.InsertIdentityAsync(identity, Ct);
        var balance = NewBalance(identityId: null);
        await store.InsertBalanceAsync(balance, Ct);

        Assert.Equal(BalanceIdentityLinkOutcome.UnknownIdentity,
            await store.LinkBalanceIdentityAsync("bln_missing", "idt_missing", Ct));
        Assert.Equal(BalanceIdentityLinkOutcome.UnknownIdentity,
            await store.LinkBalanceIdentityAsync(balance.BalanceId, "idt_missing", Ct));
        Assert.Equal(BalanceIdentityLinkOutcome.UnknownBalance,
            await store.LinkBalanceIdentityAsync("bln_missing", identity.IdentityId, Ct));
        Assert.Null((await store.GetBalanceAsync(balance.BalanceId, Ct))!.IdentityId);

        Assert.Equal(BalanceIdentityLinkOutcome.Linked,
            await store.LinkBalanceIdentityAsync(balance.BalanceId, identity.IdentityId, Ct));
        Assert.Equal(identity.IdentityId, (await store.GetBalanceAsync(balance.BalanceId, Ct))!.IdentityId);
    }

    // ---- helpers ----

    private static Identity NewIdentity(string? identityId = null) => new()
    {
        IdentityId = identityId ?? $"idt_{Guid.NewGuid()}",
        CreatedAt = LedgerStoreConformanceTests.Now(),
    };

    private static Identity FullIdentity() => NewIdentity() with
    {
        IdentityType = "individual", OrganizationName = "Analytical Engines", Category = "vip", FirstName = "Ada",
        LastName = "Lovelace", OtherNames = "Augusta", Gender = "female", EmailAddress = "ada@example.com",
        PhoneNumber = "+44 20 0000 0000", Nationality = "GB", Street = "12 St James's Square", Country = "UK",
        State = "London", PostCode = "SW1Y 4JH", City = "Westminster",
        Dob = new DateTime(1815, 12, 10, 8, 30, 15, DateTimeKind.Utc).AddTicks(1230),
        MetaDataJson = """{"tier": 1, "tags": ["a", "b"]}""",
    };

    private static Balance NewBalance(string? identityId) => new()
    {
        BalanceId = $"bln_{Guid.NewGuid()}",
        LedgerId = Ledger.GeneralLedgerId,
        Currency = "USD",
        IdentityId = identityId,
        CreatedAt = LedgerStoreConformanceTests.Now(),
    };

    private static IReadOnlyList<OutboxEvent> Created(Identity identity) =>
        [new OutboxEvent("identity.created", $$"""{"first_name": "{{identity.FirstName}}"}""", identity.IdentityId)];

    private static async Task<List<(string Event, string Payload, string EntityKey)>> OutboxRowsAsync(
        string dataSource)
    {
        await using var connection = await TestStores.OpenRawConnectionAsync(dataSource);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT event, payload, entity_key FROM webhook_outbox ORDER BY seq";
        await using var reader = await command.ExecuteReaderAsync(Ct);
        var rows = new List<(string, string, string)>();
        while (await reader.ReadAsync(Ct))
        {
            rows.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        }
        return rows;
    }

    /// <summary>PostgreSQL's jsonb normalises spacing and key order, so JSON is compared as values.</summary>
    private static void AssertSameJson(string expected, string actual) =>
        Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(System.Text.Json.Nodes.JsonNode.Parse(expected),
            System.Text.Json.Nodes.JsonNode.Parse(actual)), $"expected {expected}, got {actual}");
}
