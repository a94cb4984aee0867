using System.Net;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;

namespace Blnk.Server.Tests;

// Covers POST/GET /transactions over HTTP on both storages, synchronous (skip_queue) and queued:
// amounts and precision, overdraft rules, holds, references, currencies, validation and error codes.
public sealed class TransactionTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Skip_queue_transfer_applies_and_moves_money(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.CreateBalanceAsync();
        var destination = await api.CreateBalanceAsync();
        await api.FundAsync(source, 10_000);
        var reference = "ref-" + Guid.NewGuid();
        var response = await api.PostAsync("transactions", new
        {
            amount = 12.34, precision = 100, currency = "USD", reference, description = "rent",
            source, destination, skip_queue = true, meta_data = new { order = 7 },
        });
        Assert.Equal(HttpStatusCode.Created, response.Status);
        Assert.Equal("APPLIED", response.Str("status"));
        Assert.Equal(1234, (int)response.Money("precise_amount"));
        Assert.Equal(12.34, response.Body.GetProperty("amount").GetDouble());
        Assert.Equal("100", response.Body.GetProperty("precision").GetRawText());
        Assert.StartsWith("txn_", response.Str("transaction_id"));
        Assert.Equal("", response.Str("parent_transaction"));
        Assert.Equal(source, response.Str("source"));
        Assert.Equal(7, response.Body.GetProperty("meta_data").GetProperty("order").GetInt32());
        Assert.Equal("0001-01-01T00:00:00Z", response.Str("scheduled_for"));
        var expectedHash = Convert.ToHexStringLower(SHA256.HashData(
            Encoding.UTF8.GetBytes("12.34" + reference + "USD" + source + destination)));
        Assert.Equal(expectedHash, response.Str("hash"));

        Assert.Equal(10_000 - 1234, await api.BalanceOfAsync(source));
        var destinationBalance = await api.GetAsync($"balances/{destination}");
        Assert.Equal(1234, (int)destinationBalance.Money("credit_balance"));
        Assert.Equal(1234, (int)destinationBalance.Money("balance"));
        Assert.Equal(1, destinationBalance.Body.GetProperty("version").GetInt32());

        var byId = await api.GetAsync($"transactions/{response.Str("transaction_id")}");
        Assert.Equal(HttpStatusCode.OK, byId.Status);
        Assert.Equal(reference, byId.Str("reference"));
        var byReference = await api.GetAsync($"transactions/reference/{reference}");
        Assert.Equal(response.Str("transaction_id"), byReference.Str("transaction_id"));
        Assert.Equal(response.Str("created_at"), byReference.Str("created_at"));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Transaction_ids_are_distinct_version_7_uuids_stamped_with_their_creation_time(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.CreateBalanceAsync();
        var destination = await api.CreateBalanceAsync();
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var ids = new List<string>();
        for (var index = 0; index < 150; index++)
        {
            var response = await api.PostAsync("transactions", new
            {
                amount = 1, precision = 100, currency = "USD", reference = "ref-" + Guid.NewGuid(),
                description = "id", source, destination, allow_overdraft = true, skip_queue = true,
            });
            Assert.Equal(HttpStatusCode.Created, response.Status);
            ids.Add(response.Str("transaction_id"));
        }
        var after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        Assert.Equal(ids.Count, ids.Distinct().Count());
        foreach (var id in ids)
        {
            Assert.Matches("^txn_[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", id);
            var stamp = Convert.ToInt64(id[4..12] + id[13..17], 16);
            Assert.InRange(stamp, before, after);
        }
        // 74 random bits each: equal random parts would mean the same random bytes were handed out twice.
        Assert.Equal(ids.Count, ids.Select(id => id[19..]).Distinct().Count());
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Amount_conversion_matches_blnk(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var destination = await api.CreateBalanceAsync();
        var response = await api.PostAsync("transactions", new
        {
            amount = 1.005, precision = 100, currency = "USD", reference = "r-" + Guid.NewGuid(), description = "d",
            source = "@World", destination, allow_overdraft = true, skip_queue = true,
        });
        Assert.Equal(101, (int)response.Money("precise_amount"));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Huge_precise_amounts_stay_exact(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var currency = "WEI" + Guid.NewGuid().ToString("N")[..6];
        var destination = await api.CreateBalanceAsync(currency);
        var huge = BigInteger.Parse("123456789012345678901234567890", System.Globalization.CultureInfo.InvariantCulture);
        var json = $$"""
            {"precise_amount": {{huge}}, "precision": 1000000000000000000, "currency": "{{currency}}",
             "reference": "big-{{Guid.NewGuid()}}", "description": "d", "source": "@World",
             "destination": "{{destination}}", "allow_overdraft": true, "skip_queue": true}
            """;
        var response = await api.PostAsync("transactions", json);
        Assert.Equal(HttpStatusCode.Created, response.Status);
        Assert.Equal(huge, response.Money("precise_amount"));
        Assert.Equal("1000000000000000000", response.Body.GetProperty("precision").GetRawText());
        Assert.Equal(huge, await api.BalanceOfAsync(destination));
        var world = await api.GetAsync($"balances/indicator/@World/currency/{currency}");
        Assert.Equal(-huge, world.Money("balance"));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Insufficient_funds_refuses_and_changes_nothing(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.CreateBalanceAsync();
        var destination = await api.CreateBalanceAsync();
        await api.FundAsync(source, 500);
        var reference = "nsf-" + Guid.NewGuid();
        var response = await api.TransferAsync(source, destination, 501, reference: reference);
        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        Assert.Equal("TXN_INSUFFICIENT_FUNDS", response.ErrorCode);
        Assert.Equal("failed to apply transaction to balances: insufficient funds in source balance",
            response.Body.GetProperty("error").GetString());
        Assert.Equal(500, await api.BalanceOfAsync(source));
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetAsync($"transactions/reference/{reference}")).Status);
        // The reference was not consumed: the same reference succeeds once funds suffice.
        Assert.Equal(HttpStatusCode.Created, (await api.TransferAsync(source, destination, 500, reference: reference)).Status);
        Assert.Equal(0, await api.BalanceOfAsync(source));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Overdraft_limit_is_enforced_with_and_without_allow_overdraft(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.CreateBalanceAsync();
        var destination = await api.CreateBalanceAsync();
        async Task<ApiResponse> Send(long precise, bool allow, double limit) =>
            await api.PostAsync("transactions", new
            {
                precise_amount = precise, precision = 100, currency = "USD", reference = "od-" + Guid.NewGuid(),
                description = "d", source, destination, skip_queue = true, allow_overdraft = allow,
                overdraft_limit = limit,
            });
        Assert.Equal(HttpStatusCode.Created, (await Send(1000, false, 10)).Status);
        var beyond = await Send(1, false, 10);
        Assert.Equal(HttpStatusCode.BadRequest, beyond.Status);
        Assert.Contains("overdraft limit", beyond.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, (await Send(1, true, 10)).Status);
        Assert.Equal(-1000, await api.BalanceOfAsync(source));
        Assert.Equal(HttpStatusCode.Created, (await Send(5000, true, 0)).Status);
        Assert.Equal(-6000, await api.BalanceOfAsync(source));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Inflight_holds_move_inflight_fields_and_reduce_availability(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.CreateBalanceAsync();
        var destination = await api.CreateBalanceAsync();
        await api.FundAsync(source, 1000);
        async Task<ApiResponse> Hold(long precise) => await api.PostAsync("transactions", new
        {
            precise_amount = precise, precision = 100, currency = "USD", reference = "h-" + Guid.NewGuid(),
            description = "hold", source, destination, skip_queue = true, inflight = true,
        });
        var hold = await Hold(700);
        Assert.Equal(HttpStatusCode.Created, hold.Status);
        Assert.Equal("INFLIGHT", hold.Str("status"));
        Assert.True(hold.Body.GetProperty("inflight").GetBoolean());
        var sourceBalance = await api.GetAsync($"balances/{source}");
        Assert.Equal(1000, (int)sourceBalance.Money("balance"));
        Assert.Equal(700, (int)sourceBalance.Money("inflight_debit_balance"));
        Assert.Equal(-700, (int)sourceBalance.Money("inflight_balance"));
        var destinationBalance = await api.GetAsync($"balances/{destination}");
        Assert.Equal(700, (int)destinationBalance.Money("inflight_credit_balance"));
        Assert.Equal(0, (int)destinationBalance.Money("balance"));

        var second = await Hold(301);
        Assert.Equal(HttpStatusCode.BadRequest, second.Status);
        Assert.Equal("TXN_INSUFFICIENT_FUNDS", second.ErrorCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await api.TransferAsync(source, destination, 301)).Status);
        Assert.Equal(HttpStatusCode.Created, (await api.TransferAsync(source, destination, 300)).Status);
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Duplicate_reference_is_409_on_both_paths(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.CreateBalanceAsync();
        var destination = await api.CreateBalanceAsync();
        await api.FundAsync(source, 1000);
        var reference = "dup-" + Guid.NewGuid();
        Assert.Equal(HttpStatusCode.Created, (await api.TransferAsync(source, destination, 1, reference: reference)).Status);
        var again = await api.TransferAsync(source, destination, 1, reference: reference);
        Assert.Equal(HttpStatusCode.Conflict, again.Status);
        Assert.Equal("TXN_DUPLICATE_REFERENCE", again.ErrorCode);
        Assert.Equal($"transaction validation failed: reference {reference} has already been used", again.ErrorMessage);
        var queued = await api.TransferAsync(source, destination, 1, skipQueue: false, reference: reference);
        Assert.Equal(HttpStatusCode.Conflict, queued.Status);
        Assert.Equal(999, await api.BalanceOfAsync(source));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Unknown_balance_and_currency_mismatch_are_refused_at_once(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var usd = await api.CreateBalanceAsync();
        foreach (var skipQueue in new[] { true, false })
        {
            var unknown = await api.TransferAsync("bln_missing", usd, 1, skipQueue);
            Assert.Equal(HttpStatusCode.NotFound, unknown.Status);
            Assert.Equal("TXN_NOT_FOUND", unknown.ErrorCode);
            Assert.Equal("Balance with ID 'bln_missing' not found", unknown.ErrorMessage);
            var mismatch = await api.TransferAsync("@World", usd, 1, skipQueue, currency: "EUR");
            Assert.Equal(HttpStatusCode.BadRequest, mismatch.Status);
            Assert.Equal("TXN_VALIDATION_ERROR", mismatch.ErrorCode);
            Assert.Contains("currency mismatch", mismatch.ErrorMessage, StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Validation_errors_use_blnk_codes_and_format(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var empty = await api.PostAsync("transactions", new { currency = "USD" });
        Assert.Equal(HttpStatusCode.BadRequest, empty.Status);
        Assert.Equal("TXN_VALIDATION_ERROR", empty.ErrorCode);
        Assert.Equal("amount: either amount or precise_amount is required; description: cannot be blank; " +
            "destination: either destination or destinations is required; reference: cannot be blank; " +
            "source: either source or sources is required.", empty.Body.GetProperty("errors").GetString());

        var both = await api.PostAsync("transactions", new
        {
            amount = 1, precise_amount = 100, currency = "USD", reference = "x", description = "d", source = "@a",
            destination = "@b",
        });
        Assert.Equal("amount: either amount or precise_amount should be provided, not both.", both.ErrorMessage);

        var digits = await api.PostAsync("transactions", new
        {
            amount = 1234567890.1234567, currency = "USD", reference = "x", description = "d", source = "@a", destination = "@b",
        });
        Assert.Contains("more than 15 significant digits", digits.ErrorMessage, StringComparison.Ordinal);

        var infinite = await api.SendAsync(HttpMethod.Post, "transactions", """
            {"amount": 1e400, "currency": "USD", "reference": "x", "description": "d", "source": "@a", "destination": "@b"}
            """);
        Assert.Equal(HttpStatusCode.BadRequest, infinite.Status);
        Assert.Equal("amount: amount must be a finite number.", infinite.ErrorMessage);

        var precision = await api.PostAsync("transactions", new
        {
            amount = 1, precision = 2.5, currency = "USD", reference = "x", description = "d", source = "@a", destination = "@b",
        });
        Assert.Equal("TXN_PRECISION_NOT_INTEGER", precision.ErrorCode);
        Assert.Equal("precision must be an integer value", precision.Body.GetProperty("error").GetString());

        var zero = await api.PostAsync("transactions", new
        {
            amount = 0, currency = "USD", reference = "x", description = "d", source = "@a", destination = "@b",
        });
        Assert.Equal("TXN_INVALID_AMOUNT", zero.ErrorCode);

        var self = await api.PostAsync("transactions", new
        {
            amount = 1, currency = "USD", reference = "x", description = "d", source = "@a", destination = "@a",
        });
        Assert.Equal("source: source and destination cannot be the same balance.", self.ErrorMessage);
        var splitToItself = await api.PostAsync("transactions", new
        {
            amount = 1, currency = "USD", reference = "x", description = "d", source = "@a",
            destinations = new[]
            {
                new { identifier = "@b", distribution = "50%" }, new { identifier = "@a", distribution = "left" },
            },
        });
        Assert.Equal("source: source and destination cannot be the same balance.", splitToItself.ErrorMessage);

        var badDate = await api.PostAsync("transactions", new
        {
            amount = 1, currency = "USD", reference = "x", description = "d", source = "@a", destination = "@b",
            scheduled_for = "tomorrow",
        });
        Assert.Equal("scheduled_for: please format the scheduled date as 'YYYY-MM-DDTHH:MM:SS+00:00' " +
            "(e.g., 2024-04-22T15:28:03+00:00).", badDate.ErrorMessage);

        var malformed = await api.PostAsync("transactions", "{\"amount\": ");
        Assert.Equal(HttpStatusCode.BadRequest, malformed.Status);
        Assert.Equal("GEN_MALFORMED_REQUEST", malformed.ErrorCode);
        Assert.Equal("Invalid input", malformed.ErrorMessage);

        var quotedPrecise = await api.PostAsync("transactions", "{\"precise_amount\": \"100\"}");
        Assert.Equal("GEN_MALFORMED_REQUEST", quotedPrecise.ErrorCode);
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Input_the_database_cannot_store_is_a_400_and_harms_no_other_request(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var destination = await api.CreateBalanceAsync();
        var good = Enumerable.Range(0, 20).Select(_ => api.FundAsync(destination, 1)).ToList();
        var nul = api.PostAsync("transactions", $$"""
            {"amount": 1, "currency": "USD", "reference": "nul-\u0000", "description": "d", "source": "@World",
             "destination": "{{destination}}", "allow_overdraft": true, "skip_queue": true}
            """);
        var longReference = api.PostAsync("transactions", new
        {
            amount = 1, currency = "USD", reference = new string('r', 5000), description = "d", source = "@World",
            destination, allow_overdraft = true, skip_queue = true,
        });
        var longIndicator = api.PostAsync("transactions", new
        {
            amount = 1, currency = "USD", reference = "li-" + Guid.NewGuid(), description = "d",
            source = "@" + new string('w', 5000), destination, allow_overdraft = true, skip_queue = true,
        });
        var hugeAmount = api.PostAsync("transactions", "{\"precise_amount\": 1" + new string('0', 70) +
            ", \"currency\": \"USD\", \"reference\": \"h\", \"description\": \"d\", \"source\": \"@World\"," +
            $" \"destination\": \"{destination}\", \"allow_overdraft\": true, \"skip_queue\": true}}");
        var nulLedger = api.PostAsync("ledgers", "{\"name\": \"x\\u0000y\"}");
        Assert.Equal("GEN_MALFORMED_REQUEST", (await nul).ErrorCode);
        Assert.Contains("reference: the length must be no more than 512", (await longReference).ErrorMessage,
            StringComparison.Ordinal);
        Assert.Contains("source: the length must be no more than 256", (await longIndicator).ErrorMessage,
            StringComparison.Ordinal);
        Assert.Equal("precise_amount: must have at most 63 digits.", (await hugeAmount).ErrorMessage);
        Assert.Equal(HttpStatusCode.BadRequest, (await nulLedger).Status);
        await Task.WhenAll(good);
        Assert.Equal(20, await api.BalanceOfAsync(destination));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Transaction_lookups_and_list(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var missing = await api.GetAsync("transactions/txn_missing");
        Assert.Equal(HttpStatusCode.NotFound, missing.Status);
        Assert.Equal("TXN_NOT_FOUND", missing.ErrorCode);
        Assert.Equal("Transaction with ID 'txn_missing' not found", missing.ErrorMessage);
        var missingReference = await api.GetAsync("transactions/reference/nope");
        Assert.Equal("Transaction with reference 'nope' not found", missingReference.ErrorMessage);

        var destination = await api.CreateBalanceAsync();
        await api.FundAsync(destination, 5);
        var list = await api.GetAsync("transactions?limit=2");
        Assert.Equal(HttpStatusCode.OK, list.Status);
        Assert.Equal(2, list.Body.GetArrayLength());
        var lenient = await api.GetAsync("transactions?limit=abc&offset=-3");
        Assert.Equal(HttpStatusCode.OK, lenient.Status);
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Effective_date_is_stored_and_returned(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var destination = await api.CreateBalanceAsync();
        var response = await api.PostAsync("transactions", new
        {
            amount = 1, precision = 100, currency = "USD", reference = "eff-" + Guid.NewGuid(), description = "d",
            source = "@World", destination, allow_overdraft = true, skip_queue = true,
            effective_date = "2024-01-15T10:30:00Z",
        });
        Assert.Equal("2024-01-15T10:30:00Z", response.Str("effective_date"));
        var fetched = await api.GetAsync($"transactions/{response.Str("transaction_id")}");
        Assert.Equal("2024-01-15T10:30:00Z", fetched.Str("effective_date"));
    }
}
