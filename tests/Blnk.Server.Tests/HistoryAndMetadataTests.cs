using System.Data.Common;
using System.Globalization;
using System.Net;
using System.Numerics;
using System.Text.Json;
using Blnk.Core.Transactions;
using Blnk.Storage;
using Blnk.TestSupport;

namespace Blnk.Server.Tests;

// Covers GET /balances/{id}/at (backdated transactions, snapshots, exact numbers), POST /balances-snapshots,
// POST /{id}/metadata (every entity, children of a parent id, concurrent merges) and
// POST /transactions/recover over HTTP on both storages. Tests that read or write the database directly
// own their server; the others share one per dialect.
public sealed class HistoryAndMetadataTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const string InvalidTimestamp =
        "invalid timestamp format. Please use ISO 8601 format (e.g., 2024-01-01T15:04:05Z)";

    /// <summary>Midnight UTC ten days ago: transactions are backdated to whole days after it.</summary>
    private static readonly DateTime _t0 = DateTime.UtcNow.Date.AddDays(-10);

    // ---- GET /balances/{id}/at ----

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Balance_at_a_time_follows_effective_dates(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var (b, c) = (await api.CreateBalanceAsync(), await api.CreateBalanceAsync());
        await MoveAsync(api, "@World", b, 10_000, _t0.AddDays(1));
        await MoveAsync(api, b, c, 3_000, _t0.AddDays(2));
        await MoveAsync(api, "@World", b, 500, effective: null);

        var before = await api.GetAsync($"balances/{b}/at?timestamp={Rfc(_t0.AddDays(1).AddTicks(-10))}");
        AssertError(before, HttpStatusCode.NotFound, "BAL_HISTORY_NOT_FOUND",
            "no balance data found for time: " +
            _t0.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + " 23:59:59.999999 +0000 UTC");
        var first = await api.GetAsync($"balances/{b}/at?timestamp={Rfc(_t0.AddDays(1))}");
        AssertHistory(first, b, balance: 10_000, debit: 0, credit: 10_000, fromSource: false);
        Assert.Equal(Rfc(_t0.AddDays(1)), first.Str("timestamp"));
        var offsetText = _t0.AddDays(1).AddHours(2)
            .ToString("yyyy-MM-dd'T'HH:mm:ss'+02:00'", CultureInfo.InvariantCulture);
        var withOffset = await api.GetAsync($"balances/{b}/at?timestamp={Uri.EscapeDataString(offsetText)}");
        AssertHistory(withOffset, b, 10_000, 0, 10_000, false);
        Assert.Equal(Rfc(_t0.AddDays(1)), withOffset.Str("timestamp"));
        AssertHistory(await api.GetAsync($"balances/{b}/at?timestamp={Rfc(_t0.AddDays(2).AddHours(12))}"), b,
            7_000, 3_000, 10_000, false);
        AssertHistory(await api.GetAsync($"balances/{c}/at?timestamp={Rfc(_t0.AddDays(2))}"), c, 3_000, 0, 3_000,
            false);

        var now = await api.GetAsync($"balances/{b}/at");
        AssertHistory(now, b, 7_500, 3_000, 10_500, false);
        var echoed = DateTime.Parse(now.Str("timestamp"), CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal);
        Assert.InRange(echoed, DateTime.UtcNow.AddMinutes(-1), DateTime.UtcNow.AddMinutes(1));
        AssertHistory(await api.GetAsync($"balances/{b}/at?from_source=true"), b, 7_500, 3_000, 10_500, true);
        AssertHistory(await api.GetAsync($"balances/{b}/at?from_source=1"), b, 7_500, 3_000, 10_500, true);
        AssertHistory(await api.GetAsync($"balances/{b}/at?from_source=yes"), b, 7_500, 3_000, 10_500, false);
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Balance_at_a_time_answers_blnk_errors(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var b = await api.CreateBalanceAsync();
        foreach (var bad in new[] { "yesterday", "2024-01-01", "2024-01-01T15:04:05", "2024-01-01 15:04:05Z",
                     "2024-13-01T00:00:00Z", "2024-02-30T00:00:00Z", "2024-01-01T24:00:00Z",
                     "2024-01-01T15:04:05+0100", "2024-01-01T15:04:05Z\n" })
        {
            AssertError(await api.GetAsync($"balances/{b}/at?timestamp={Uri.EscapeDataString(bad)}"),
                HttpStatusCode.BadRequest, "BAL_INVALID_TIMESTAMP", InvalidTimestamp);
        }
        AssertError(await api.GetAsync("balances/bln_missing/at"), HttpStatusCode.NotFound, "BAL_NOT_FOUND",
            "Balance 'bln_missing' not found");
        AssertError(await api.GetAsync("balances/bln_missing/at?timestamp=bad"), HttpStatusCode.BadRequest,
            "BAL_INVALID_TIMESTAMP", InvalidTimestamp);
        AssertError(await api.GetAsync($"balances/{b}/at?timestamp=2024-01-01T15:04:05.123456789Z"),
            HttpStatusCode.NotFound, "BAL_HISTORY_NOT_FOUND",
            "no balance data found for time: 2024-01-01 15:04:05.123456 +0000 UTC");
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Balance_at_a_time_keeps_huge_amounts_exact(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var currency = "WEI" + Guid.NewGuid().ToString("N")[..6];
        var b = await api.CreateBalanceAsync(currency);
        var huge = BigInteger.Pow(10, 30) + 7;
        for (var i = 0; i < 2; i++)
        {
            var response = await api.PostAsync("transactions", $$"""
                {"precise_amount": {{huge}}, "precision": 100, "currency": "{{currency}}",
                 "reference": "h-{{Guid.NewGuid()}}", "description": "d", "source": "@World",
                 "destination": "{{b}}", "allow_overdraft": true, "skip_queue": true,
                 "effective_date": "{{Rfc(_t0.AddDays(i))}}"}
                """);
            Assert.True(response.Status == HttpStatusCode.Created, response.Text);
        }

        var at = await api.GetAsync($"balances/{b}/at?timestamp={Rfc(_t0.AddHours(1))}");
        Assert.Equal(huge.ToString(CultureInfo.InvariantCulture), Field(at, "balance").GetRawText());
        var all = await api.GetAsync($"balances/{b}/at");
        Assert.Equal((huge * 2).ToString(CultureInfo.InvariantCulture), Field(all, "credit_balance").GetRawText());
        Assert.Equal(currency, Field(all, "currency").GetString());
    }

    // ---- POST /balances-snapshots ----

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Snapshots_copy_balances_once_a_day_and_history_stays_exact(string dialect)
    {
        var dataSource = await ServerFixture.NewDataSourceAsync(dialect);
        await using var server = await ServerProcess.StartAsync(dataSource);
        await using var store = LedgerStoreFactory.Create(dataSource);
        var api = new Api(server.Client);
        var (b, c) = (await api.CreateBalanceAsync(), await api.CreateBalanceAsync());
        await MoveAsync(api, "@World", b, 10_000, _t0.AddDays(1));
        await MoveAsync(api, b, c, 3_000, _t0.AddDays(2));
        var world = (await api.GetAsync("balances/indicator/@World/currency/USD")).Str("balance_id");

        var started = await api.PostAsync("balances-snapshots?batch_size=1", "");
        Assert.Equal(HttpStatusCode.OK, started.Status);
        Assert.Equal("Snapshotting in progress. should be completed shortly", started.Str("message"));
        foreach (var id in new[] { b, c, world })
        {
            var snapshot = Assert.Single(await WaitForSnapshotsAsync(store, id));
            var live = await api.GetAsync($"balances/{id}");
            Assert.Equal((live.Money("credit_balance"), live.Money("debit_balance")),
                (snapshot.Amounts.CreditBalance, snapshot.Amounts.DebitBalance));
            Assert.Equal(DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), snapshot.SnapshotDate);
        }

        // After the snapshot: one transfer backdated before it, one now.
        await MoveAsync(api, b, c, 1_000, _t0.AddDays(1).AddHours(12));
        await MoveAsync(api, "@World", b, 5, effective: null);
        foreach (var fromSource in new[] { "false", "true" })
        {
            AssertHistory(await api.GetAsync($"balances/{b}/at?from_source={fromSource}"), b, 6_005, 4_000, 10_005,
                fromSource == "true");
            AssertHistory(await api.GetAsync($"balances/{b}/at?timestamp={Rfc(_t0.AddDays(1).AddHours(18))}" +
                $"&from_source={fromSource}"), b, 9_000, 1_000, 10_000, fromSource == "true");
        }
        Assert.Equal(6_005, await api.BalanceOfAsync(b));

        Assert.Equal(HttpStatusCode.OK, (await api.PostAsync("balances-snapshots", "")).Status);
        await Task.Delay(1500);
        Assert.Single(await store.ListBalanceSnapshotsAsync(b, CancellationToken.None));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Snapshot_batch_size_must_be_a_positive_integer(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        foreach (var bad in new[] { "abc", "0", "-3", "1.5", " 5" })
        {
            AssertError(await api.PostAsync($"balances-snapshots?batch_size={Uri.EscapeDataString(bad)}", ""),
                HttpStatusCode.BadRequest, "GEN_VALIDATION_ERROR", "invalid batch_size value");
        }
        Assert.Equal(HttpStatusCode.OK, (await api.PostAsync("balances-snapshots?batch_size=100000", "")).Status);
    }

    // ---- POST /{id}/metadata ----

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Metadata_merges_into_ledgers_and_balances(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var ledger = (await api.PostAsync("ledgers", new { name = "Meta", meta_data = new { a = 1, b = 2 } }))
            .Str("ledger_id");
        var merged = await api.PostAsync($"{ledger}/metadata", new { meta_data = new { b = "two", c = new[] { 3 } } });
        Assert.Equal(HttpStatusCode.OK, merged.Status);
        Assert.Equal("""{"a":1,"b":"two","c":[3]}""", Canonical(merged.Body.GetProperty("meta_data")));
        Assert.Equal("""{"a":1,"b":"two","c":[3]}""",
            Canonical((await api.GetAsync($"ledgers/{ledger}")).Body.GetProperty("meta_data")));

        var balance = await api.CreateBalanceAsync();
        var first = await api.PostAsync($"{balance}/metadata", """{"meta_data": {"Tier": "gold", "tier": 1}}""");
        Assert.Equal("""{"Tier":"gold","tier":1}""", Canonical(first.Body.GetProperty("meta_data")));
        var second = await api.PostAsync($"{balance}/metadata", """{"META_DATA": {"tier": 2, "tier": 3}}""");
        Assert.Equal("""{"Tier":"gold","tier":3}""", Canonical(second.Body.GetProperty("meta_data")));
        Assert.Equal("""{"Tier":"gold","tier":3}""",
            Canonical((await api.GetAsync($"balances/{balance}")).Body.GetProperty("meta_data")));
        var unchanged = await api.PostAsync($"{balance}/metadata", """{"meta_data": {}}""");
        Assert.Equal("""{"Tier":"gold","tier":3}""", Canonical(unchanged.Body.GetProperty("meta_data")));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Transaction_metadata_reaches_the_row_and_its_children_and_echoes_the_new_keys(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var (source, destination) = (await api.CreateBalanceAsync(), await api.CreateBalanceAsync());
        await api.FundAsync(source, 1_000);
        var applied = await api.PostAsync("transactions", new
        {
            precise_amount = 10, precision = 100, currency = "USD", reference = "m-" + Guid.NewGuid(),
            description = "d", source, destination, skip_queue = true, meta_data = new { order = 7 },
        });
        var id = applied.Str("transaction_id");
        var echoed = await api.PostAsync($"{id}/metadata", new { meta_data = new { invoice = "A-1" } });
        Assert.Equal(HttpStatusCode.OK, echoed.Status);
        Assert.Equal("""{"invoice":"A-1"}""", Canonical(echoed.Body.GetProperty("meta_data")));
        Assert.Equal("""{"invoice":"A-1","order":7}""",
            Canonical((await api.GetAsync($"transactions/{id}")).Body.GetProperty("meta_data")));

        var reference = "mq-" + Guid.NewGuid();
        var queued = await api.TransferAsync(source, destination, 20, skipQueue: false, reference: reference);
        var child = await api.WaitForReferenceAsync(reference + "_q");
        Assert.Equal(HttpStatusCode.OK, child.Status);
        await api.PostAsync($"{queued.Str("transaction_id")}/metadata", new { meta_data = new { note = "both" } });
        foreach (var row in new[] { queued.Str("transaction_id"), child.Str("transaction_id") })
        {
            var meta = (await api.GetAsync($"transactions/{row}")).Body.GetProperty("meta_data");
            Assert.Equal("both", meta.GetProperty("note").GetString());
        }
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Metadata_answers_blnk_errors(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var balance = await api.CreateBalanceAsync();
        foreach (var missing in new[] { "txn_missing", "bulk_missing", "ldg_missing", "bln_missing", "idt_missing" })
        {
            AssertError(await api.PostAsync($"{missing}/metadata", new { meta_data = new { a = 1 } }),
                HttpStatusCode.NotFound, "META_ENTITY_NOT_FOUND", "entity not found");
        }
        foreach (var invalid in new[] { "foo_1", "general_ledger_id", "TXN_1", "txn" })
        {
            AssertError(await api.PostAsync($"{invalid}/metadata", new { meta_data = new { a = 1 } }),
                HttpStatusCode.BadRequest, "META_INVALID_ENTITY_ID", $"invalid entity ID format: {invalid}");
        }
        foreach (var body in new[]
                 { "{}", """{"meta_data": null}""", """{"meta_data": "x"}""", """{"meta_data": [1]}""" })
        {
            AssertError(await api.PostAsync($"{balance}/metadata", body), HttpStatusCode.BadRequest,
                "GEN_VALIDATION_ERROR", "meta_data is required and must be a JSON object");
        }
        Assert.Equal("GEN_MALFORMED_REQUEST",
            (await api.PostAsync($"{balance}/metadata", "{\"meta_data\":")).ErrorCode);
        Assert.Equal("GEN_MALFORMED_REQUEST",
            (await api.PostAsync($"{balance}/metadata", """{"meta_data": {"a": "x\u0000"}}""")).ErrorCode);
        Assert.Equal(JsonValueKind.Null,
            (await api.GetAsync($"balances/{balance}")).Body.GetProperty("meta_data").ValueKind);
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Concurrent_metadata_updates_keep_every_key(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var balance = await api.CreateBalanceAsync();
        var ledger = (await api.PostAsync("ledgers", new { name = "Concurrent" })).Str("ledger_id");
        var transaction = await MoveAsync(api, "@World", balance, 100, effective: null);
        var keys = Enumerable.Range(0, 30).Select(i => $"k{i}").ToList();

        var responses = await Task.WhenAll(keys.SelectMany(key => new[] { balance, ledger, transaction }
            .Select(id => api.PostAsync($"{id}/metadata", $$$"""{"meta_data": {"{{{key}}}": "{{{key}}}"}}"""))));

        Assert.All(responses, response => Assert.Equal(HttpStatusCode.OK, response.Status));
        foreach (var path in new[] { $"balances/{balance}", $"ledgers/{ledger}", $"transactions/{transaction}" })
        {
            var meta = (await api.GetAsync(path)).Body.GetProperty("meta_data");
            Assert.Equal(keys.Order(StringComparer.Ordinal),
                meta.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        }
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Identity_metadata_merges(string dialect)
    {
        var dataSource = await ServerFixture.NewDataSourceAsync(dialect);
        await using var server = await ServerProcess.StartAsync(dataSource);
        var api = new Api(server.Client);
        var identity = "idt_" + Guid.NewGuid();
        await ExecuteRawAsync(dataSource, "INSERT INTO identities (identity_id, first_name, created_at, meta_data) " +
            $"VALUES ('{identity}', 'Ada', {RawNow(dialect)}, '{{\"kyc\": \"pending\", \"tier\": 1}}')");

        var merged = await api.PostAsync($"{identity}/metadata", new { meta_data = new { kyc = "done" } });

        Assert.Equal(HttpStatusCode.OK, merged.Status);
        Assert.Equal("""{"kyc":"done","tier":1}""", Canonical(merged.Body.GetProperty("meta_data")));
    }

    // ---- POST /transactions/recover ----

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Recover_reads_go_durations_with_a_two_minute_floor(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        foreach (var (threshold, echoed) in new[] { ("", "2m0s"), ("90s", "2m0s"), ("-5m", "2m0s"), ("0", "2m0s"),
                     ("10m", "10m0s"), ("1h30m", "1h30m0s"), ("2.5h", "2h30m0s"), ("150000ms", "2m30s"),
                     ("121.5s", "2m1.5s"), ("3m0.000000001s", "3m0.000000001s") })
        {
            var response = await api.PostAsync($"transactions/recover?threshold={Uri.EscapeDataString(threshold)}", "");
            Assert.True(response.Status == HttpStatusCode.OK, response.Text);
            Assert.Equal(echoed, response.Str("threshold"));
            Assert.True(response.Body.GetProperty("recovered").GetInt32() >= 0);
        }
        foreach (var (threshold, reason) in new[]
                 {
                     ("abc", "time: invalid duration \"abc\""), ("10", "time: missing unit in duration \"10\""),
                     ("5x", "time: unknown unit \"x\" in duration \"5x\""),
                     ("1h-5m", "time: unknown unit \"h-\" in duration \"1h-5m\""),
                     (".s", "time: invalid duration \".s\""), ("9999999999h", "time: invalid duration \"9999999999h\""),
                     ("5\u00b5", "time: unknown unit \"\\xc2\\xb5\" in duration \"5\\xc2\\xb5\""),
                 })
        {
            AssertError(await api.PostAsync($"transactions/recover?threshold={Uri.EscapeDataString(threshold)}", ""),
                HttpStatusCode.BadRequest, "GEN_VALIDATION_ERROR", $"invalid threshold duration: {reason}");
        }
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Recover_releases_a_stuck_queued_transaction_which_is_then_applied_once(string dialect)
    {
        var dataSource = await ServerFixture.NewDataSourceAsync(dialect);
        await using var server = await ServerProcess.StartAsync(dataSource);
        await using var store = LedgerStoreFactory.Create(dataSource);
        var api = new Api(server.Client);
        var (source, destination) = (await api.CreateBalanceAsync(), await api.CreateBalanceAsync());
        await api.FundAsync(source, 1_000);
        var stuck = await InsertStuckQueuedAsync(store, dataSource, dialect, source, destination,
            DateTime.UtcNow.AddMinutes(-10));
        await InsertStuckQueuedAsync(store, dataSource, dialect, source, destination, DateTime.UtcNow.AddSeconds(-20));

        var recovered = await api.PostAsync("transactions/recover?threshold=5m", "");

        Assert.Equal(HttpStatusCode.OK, recovered.Status);
        Assert.Equal(1, recovered.Body.GetProperty("recovered").GetInt32());
        Assert.Equal("5m0s", recovered.Str("threshold"));
        var child = await api.WaitForReferenceAsync(stuck.Reference + "_q");
        Assert.Equal(HttpStatusCode.OK, child.Status);
        Assert.Equal("APPLIED", child.Str("status"));
        Assert.Equal(stuck.TransactionId, child.Str("parent_transaction"));
        Assert.Equal(1_000 - 123, await api.BalanceOfAsync(source));
        Assert.Equal(0, (await api.PostAsync("transactions/recover", "")).Body.GetProperty("recovered").GetInt32());
    }

    // ---- helpers ----

    private static string Rfc(DateTime utc) =>
        utc.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

    /// <summary>A synchronous transfer effective at <paramref name="effective"/> (null: now); returns its id.</summary>
    private static async Task<string> MoveAsync(Api api, string source, string destination, long amount,
        DateTime? effective)
    {
        var body = new Dictionary<string, object>
        {
            ["precise_amount"] = amount, ["precision"] = 100, ["currency"] = "USD",
            ["reference"] = "h-" + Guid.NewGuid(), ["description"] = "history", ["source"] = source,
            ["destination"] = destination, ["allow_overdraft"] = true, ["skip_queue"] = true,
        };
        if (effective is { } date)
        {
            body["effective_date"] = Rfc(date);
        }
        var response = await api.PostAsync("transactions", body);
        Assert.True(response.Status == HttpStatusCode.Created, response.Text);
        return response.Str("transaction_id");
    }

    private static JsonElement Field(ApiResponse response, string name) =>
        response.Body.GetProperty("balance").GetProperty(name);

    private static void AssertHistory(ApiResponse response, string balanceId, long balance, long debit, long credit,
        bool fromSource)
    {
        Assert.True(response.Status == HttpStatusCode.OK, response.Text);
        Assert.Equal(["balance", "timestamp", "from_source"], response.Body.EnumerateObject().Select(p => p.Name));
        var history = response.Body.GetProperty("balance");
        Assert.Equal(["balance", "debit_balance", "credit_balance", "currency", "balance_id"],
            history.EnumerateObject().Select(p => p.Name));
        long Number(string name) => (long)Api.Money(history.GetProperty(name));
        Assert.Equal((balance, debit, credit), (Number("balance"), Number("debit_balance"), Number("credit_balance")));
        Assert.Equal(("USD", balanceId), (history.GetProperty("currency").GetString(),
            history.GetProperty("balance_id").GetString()));
        Assert.Equal(fromSource, response.Body.GetProperty("from_source").GetBoolean());
    }

    private static void AssertError(ApiResponse response, HttpStatusCode status, string code, string message)
    {
        Assert.True(response.Status == status, response.Text);
        Assert.Equal(code, response.ErrorCode);
        Assert.Equal(message, response.ErrorMessage);
        Assert.Equal(message, response.Body.GetProperty("error").GetString());
    }

    /// <summary>JSON with keys sorted, so that maps compare whatever order the database keeps.</summary>
    private static string Canonical(JsonElement element) => element.ValueKind == JsonValueKind.Object
        ? "{" + string.Join(",", element.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal)
            .Select(p => JsonSerializer.Serialize(p.Name) + ":" + Canonical(p.Value))) + "}"
        : element.GetRawText();

    private static async Task<IReadOnlyList<BalanceSnapshot>> WaitForSnapshotsAsync(SqlLedgerStore store, string id)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var snapshots = await store.ListBalanceSnapshotsAsync(id, CancellationToken.None);
            if (snapshots.Count > 0 || DateTime.UtcNow > deadline)
            {
                return snapshots;
            }
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// A QUEUED row created at <paramref name="createdAt"/> whose queue entry is due but leased for a day, as
    /// a processor that crashed mid-work would leave it.
    /// </summary>
    private static async Task<TransactionRecord> InsertStuckQueuedAsync(SqlLedgerStore store, string dataSource,
        string dialect, string source, string destination, DateTime createdAt)
    {
        var reference = "stuck-" + Guid.NewGuid();
        var row = new TransactionRecord
        {
            TransactionId = "txn_" + Guid.NewGuid(), Source = source, Destination = destination, Reference = reference,
            Currency = "USD", Description = "stuck", Status = TransactionStatus.Queued, PreciseAmount = 123,
            Precision = 100, Hash = TransactionHash.Compute("1.23", reference, "USD", source, destination),
            CreatedAt = createdAt, EffectiveDate = createdAt,
        };
        await using (var batch = await store.BeginWriteBatchAsync(CancellationToken.None))
        {
            await batch.InsertTransactionsAsync([row], CancellationToken.None);
            await batch.CommitAsync(CancellationToken.None);
        }
        await ExecuteRawAsync(dataSource, "INSERT INTO transaction_queue (transaction_id, seq, available_at, " +
            $"lease_until) SELECT transaction_id, seq, {RawTime(dialect, createdAt)}, " +
            $"{RawTime(dialect, DateTime.UtcNow.AddDays(1))} FROM transactions " +
            $"WHERE transaction_id = '{row.TransactionId}'");
        return row;
    }

    private static string RawNow(string dialect) => RawTime(dialect, DateTime.UtcNow);

    /// <summary>A time literal as each schema stores it: Unix microseconds (SQLite) or timestamptz.</summary>
    private static string RawTime(string dialect, DateTime utc) => dialect == "sqlite"
        ? ((utc - DateTime.UnixEpoch).Ticks / 10).ToString(CultureInfo.InvariantCulture)
        : "'" + utc.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture) + "'";

    private static async Task ExecuteRawAsync(string dataSource, string sql)
    {
        await using DbConnection connection = await TestStores.OpenRawConnectionAsync(dataSource);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }
}
