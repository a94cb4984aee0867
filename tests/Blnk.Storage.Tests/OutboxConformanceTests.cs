using Blnk.Core.Balances;
using Blnk.Core.Ledgers;
using Blnk.TestSupport;
using static Blnk.Storage.Tests.LedgerStoreConformanceTests;

namespace Blnk.Storage.Tests;

// Covers the webhook outbox on SQLite and PostgreSQL: events recorded with the change they report (and not
// without it), per-entity order of claims, leases, retries, giving up, and every attempt recorded.
public sealed class OutboxConformanceTests
{
    private static CancellationToken Ct => CancellationToken.None;

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Events_are_recorded_with_the_change_and_not_without_it(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var ledger = new Ledger("ldg_" + Guid.NewGuid(), "L", Now(), null);
        await store.InsertLedgerAsync(ledger, Ct, [Event("ledger.created", ledger.LedgerId)]);
        var balance = new Balance
        {
            BalanceId = "bln_" + Guid.NewGuid(), LedgerId = "general_ledger_id", Currency = "USD",
            Indicator = "@outbox", CreatedAt = Now(),
        };
        Assert.Equal(BalanceInsertOutcome.Inserted,
            await store.InsertBalanceAsync(balance, Ct, [Event("balance.created", balance.BalanceId)]));
        var duplicate = new Balance
        {
            BalanceId = "bln_" + Guid.NewGuid(), LedgerId = "general_ledger_id", Currency = "USD",
            Indicator = "@outbox", CreatedAt = Now(),
        };
        Assert.Equal(BalanceInsertOutcome.DuplicateIndicator,
            await store.InsertBalanceAsync(duplicate, Ct, [Event("balance.created", duplicate.BalanceId)]));
        Assert.False(await store.RenameLedgerAsync("ldg_missing", "x", Ct, [Event("ledger.created", "ldg_missing")]));

        var claimed = await ClaimAsync(store, Now());

        Assert.Equal([ledger.LedgerId, balance.BalanceId], claimed.Select(delivery => KeyOf(delivery)));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task One_entitys_deliveries_are_claimed_one_at_a_time_in_order(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        await store.AppendOutboxAsync([Event("e1", "a"), Event("e2", "a"), Event("e3", "b"),
            Event("e4", "a", OutboxTarget.Callback)], Now(), Ct);

        var first = await ClaimAsync(store, Now());
        Assert.Equal(["e1", "e3", "e4"], first.Select(delivery => delivery.Event));
        Assert.Empty(await ClaimAsync(store, Now()));

        await store.RecordDeliveryAttemptsAsync([Delivered(first[0])], Ct);
        var second = await ClaimAsync(store, Now());
        Assert.Equal(["e2"], second.Select(delivery => delivery.Event));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task A_failed_delivery_waits_for_its_retry_time_and_holds_back_its_entity(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var start = Now();
        await store.AppendOutboxAsync([Event("first", "a"), Event("second", "a")], start, Ct);
        var claimed = (await ClaimAsync(store, start)).Single();
        var retryAt = start.AddSeconds(30);

        await store.RecordDeliveryAttemptsAsync([new DeliveryAttempt(claimed.Seq, 1, start, 500, "HTTP 500: down", 12,
            Delivered: false, GiveUp: false, retryAt)], Ct);

        Assert.Empty(await ClaimAsync(store, start.AddSeconds(29)));
        var retried = (await ClaimAsync(store, retryAt)).Single();
        Assert.Equal(("first", 1), (retried.Event, retried.Attempts));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task A_given_up_delivery_frees_its_entity_and_every_attempt_is_listed(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var start = Now();
        await store.AppendOutboxAsync([Event("doomed", "a"), Event("next", "a")], start, Ct);
        var doomed = (await ClaimAsync(store, start)).Single();
        await store.RecordDeliveryAttemptsAsync([new DeliveryAttempt(doomed.Seq, 1, start, null, "refused", 3,
            Delivered: false, GiveUp: false, start)], Ct);
        await ClaimAsync(store, start);
        await store.RecordDeliveryAttemptsAsync([new DeliveryAttempt(doomed.Seq, 2, start, 400, "HTTP 400", 4,
            Delivered: false, GiveUp: true, null)], Ct);

        var next = (await ClaimAsync(store, start)).Single();
        await store.RecordDeliveryAttemptsAsync([Delivered(next)], Ct);

        Assert.Equal("next", next.Event);
        Assert.Empty(await ClaimAsync(store, start.AddHours(1)));
        var attempts = await store.ListDeliveryAttemptsAsync(100, Ct);
        Assert.Equal([("doomed", 1, (int?)null), ("doomed", 2, 400), ("next", 1, 200)],
            attempts.Select(attempt => (attempt.Event, attempt.Attempt, attempt.StatusCode)));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task A_late_attempt_from_an_expired_lease_cannot_overwrite_what_was_recorded_since(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var start = Now();
        await store.AppendOutboxAsync([Event("once", "a"), Event("after", "a")], start, Ct);
        var firstLease = (await store.ClaimDeliveriesAsync(10, start, start.AddSeconds(1), Ct)).Single();
        // The lease ran out; another process claims the delivery again and delivers it.
        var secondLease = (await store.ClaimDeliveriesAsync(10, start.AddSeconds(2), start.AddSeconds(3), Ct)).Single();
        await store.RecordDeliveryAttemptsAsync([Delivered(secondLease)], Ct);

        // The first process's failure arrives late: it changes nothing.
        await store.RecordDeliveryAttemptsAsync([new DeliveryAttempt(firstLease.Seq, 1, start, 503, "HTTP 503", 9,
            Delivered: false, GiveUp: false, start.AddSeconds(5))], Ct);

        Assert.Equal([("once", 1, (int?)200)],
            (await store.ListDeliveryAttemptsAsync(100, Ct)).Select(attempt => (attempt.Event, attempt.Attempt, attempt.StatusCode)));
        Assert.Equal(["after"], (await ClaimAsync(store, start.AddSeconds(4))).Select(delivery => delivery.Event));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task A_leased_delivery_is_claimed_again_only_after_its_lease(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var start = Now();
        await store.AppendOutboxAsync([Event("leased", "a")], start, Ct);
        Assert.Single(await store.ClaimDeliveriesAsync(10, start, start.AddMinutes(2), Ct));

        Assert.Empty(await store.ClaimDeliveriesAsync(10, start.AddMinutes(1), start.AddMinutes(3), Ct));
        Assert.Single(await store.ClaimDeliveriesAsync(10, start.AddMinutes(2), start.AddMinutes(4), Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Pruning_removes_only_deliveries_finished_before_the_cutoff_with_their_attempts(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var start = Now();
        await store.AppendOutboxAsync([Event("old", "a"), Event("dead", "b"), Event("recent", "c"),
            Event("pending", "d")], start, Ct);
        var claimed = (await ClaimAsync(store, start)).ToDictionary(delivery => delivery.Event);
        await store.RecordDeliveryAttemptsAsync(
        [
            Delivered(claimed["old"]) with { AttemptedAt = start },
            new DeliveryAttempt(claimed["dead"].Seq, 1, start, 500, "HTTP 500", 1, Delivered: false, GiveUp: true, null),
            Delivered(claimed["recent"]) with { AttemptedAt = start.AddHours(2) },
        ], Ct);

        var removed = await store.PruneDeliveriesAsync(start.AddHours(1), 100, Ct);

        Assert.Equal(2, removed);
        Assert.Equal(["recent"], (await store.ListDeliveryAttemptsAsync(100, Ct)).Select(attempt => attempt.Event));
        Assert.Equal(["pending"], (await ClaimAsync(store, start.AddMinutes(2))).Select(delivery => delivery.Event));
    }

    private static OutboxEvent Event(string name, string key, string target = OutboxTarget.Webhook) =>
        new(name, $$"""{"key": "{{key}}"}""", key, target, target == OutboxTarget.Webhook ? null : "http://127.0.0.1:1/");

    private static string KeyOf(OutboxDelivery delivery) =>
        System.Text.Json.JsonDocument.Parse(delivery.PayloadJson).RootElement.GetProperty("key").GetString()!;

    private static DeliveryAttempt Delivered(OutboxDelivery delivery) =>
        new(delivery.Seq, delivery.Attempts + 1, Now(), 200, null, 5, Delivered: true, GiveUp: false, null);

    private static Task<IReadOnlyList<OutboxDelivery>> ClaimAsync(ILedgerStore store, DateTime now) =>
        store.ClaimDeliveriesAsync(100, now, now.AddMinutes(1), Ct);
}
