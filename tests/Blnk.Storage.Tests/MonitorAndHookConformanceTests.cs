using System.Data.Common;
using System.Numerics;
using Blnk.Core.Balances;
using Blnk.Core.Hooks;
using Blnk.Core.Ledgers;
using Blnk.Core.Monitors;
using Blnk.TestSupport;

namespace Blnk.Storage.Tests;

// Balance monitors and transaction hooks on SQLite and PostgreSQL: every field round-trips exactly (precise values
// beyond 64 bits and negative, times to the microsecond), lists are oldest first, updates keep what they must, and
// the schema refuses what the API must never let through. Monitor evaluation is covered in Blnk.Core.Tests.
public sealed class MonitorAndHookConformanceTests
{
    private static readonly DateTime _t0 = new(2024, 3, 10, 12, 0, 0, 123, 456, DateTimeKind.Utc);
    private static readonly BigInteger _beyond64Bits = BigInteger.Pow(10, 30) + 7;

    private static CancellationToken Ct => CancellationToken.None;

    // ---- monitors ----

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Monitor_insert_then_get_returns_the_same_values(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var balance = await NewBalanceAsync(store);
        var monitor = Monitor(balance, new MonitorCondition("inflight_balance", "<=", -10.5, 1e18, -_beyond64Bits))
            with { Description = "low", CallBackUrl = "https://example.com/cb", Trigger = MonitorTrigger.Edge };

        Assert.True(await store.InsertMonitorAsync(monitor, Ct));

        Assert.Equal(monitor, await store.GetMonitorAsync(monitor.MonitorId, Ct));
        Assert.Null(await store.GetMonitorAsync("mon_missing", Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Monitor_defaults_round_trip(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var monitor = Monitor(await NewBalanceAsync(store), new MonitorCondition("balance", "=", 0, 1, 0));

        Assert.True(await store.InsertMonitorAsync(monitor, Ct));

        var stored = await store.GetMonitorAsync(monitor.MonitorId, Ct);
        Assert.Equal(monitor, stored);
        Assert.Equal("", stored!.Description);
        Assert.Equal("", stored.CallBackUrl);
        Assert.Equal(MonitorTrigger.Level, stored.Trigger);
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Monitor_of_an_unknown_balance_is_refused_and_not_stored(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var monitor = Monitor("bln_missing", new MonitorCondition("balance", ">", 1, 100, 100));

        Assert.False(await store.InsertMonitorAsync(monitor, Ct));

        Assert.Null(await store.GetMonitorAsync(monitor.MonitorId, Ct));
        Assert.Empty(await store.ListMonitorsAsync(null, Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Monitors_list_oldest_first_all_or_of_one_balance(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (a, b) = (await NewBalanceAsync(store), await NewBalanceAsync(store));
        var newest = Monitor(a, new MonitorCondition("balance", ">", 1, 100, 100)) with { CreatedAt = _t0.AddHours(2) };
        var oldest = Monitor(b, new MonitorCondition("balance", "<", 1, 100, 100)) with { CreatedAt = _t0 };
        var middle = Monitor(a, new MonitorCondition("debit_balance", ">=", 2, 100, 200))
            with { CreatedAt = _t0.AddHours(1) };
        foreach (var monitor in new[] { newest, oldest, middle })
        {
            Assert.True(await store.InsertMonitorAsync(monitor, Ct));
        }

        Assert.Equal([oldest, middle, newest], await store.ListMonitorsAsync(null, Ct));
        Assert.Equal([middle, newest], await store.ListMonitorsAsync(a, Ct));
        Assert.Equal([oldest], await store.ListMonitorsAsync(b, Ct));
        Assert.Empty(await store.ListMonitorsAsync("bln_missing", Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Monitor_update_replaces_everything_but_id_and_created_at(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var (a, b) = (await NewBalanceAsync(store), await NewBalanceAsync(store));
        var monitor = Monitor(a, new MonitorCondition("balance", ">", 1, 100, 100))
            with { Description = "before", CallBackUrl = "https://example.com/a" };
        Assert.True(await store.InsertMonitorAsync(monitor, Ct));
        var updated = monitor with
        {
            BalanceId = b,
            Condition = new MonitorCondition("credit_balance", "!=", 3.25, 1000, _beyond64Bits),
            Description = "after",
            CallBackUrl = "",
            Trigger = MonitorTrigger.Edge,
        };

        Assert.True(await store.UpdateMonitorAsync(updated, Ct));

        Assert.Equal(updated, await store.GetMonitorAsync(monitor.MonitorId, Ct));
        Assert.Empty(await store.ListMonitorsAsync(a, Ct));
        Assert.False(await store.UpdateMonitorAsync(updated with { MonitorId = "mon_missing" }, Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Monitor_delete_removes_it_once(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var monitor = Monitor(await NewBalanceAsync(store), new MonitorCondition("balance", ">", 1, 100, 100));
        Assert.True(await store.InsertMonitorAsync(monitor, Ct));

        Assert.True(await store.DeleteMonitorAsync(monitor.MonitorId, Ct));

        Assert.Null(await store.GetMonitorAsync(monitor.MonitorId, Ct));
        Assert.False(await store.DeleteMonitorAsync(monitor.MonitorId, Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task The_schema_refuses_an_unknown_field_operator_or_trigger(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var balance = await NewBalanceAsync(store);
        var valid = Monitor(balance, new MonitorCondition("balance", ">", 1, 100, 100));

        await Assert.ThrowsAnyAsync<DbException>(() => store.InsertMonitorAsync(
            valid with { Condition = valid.Condition with { Operator = "==" } }, Ct));
        await Assert.ThrowsAnyAsync<DbException>(() => store.InsertMonitorAsync(
            valid with
            {
                MonitorId = "mon_" + Guid.NewGuid(), Condition = valid.Condition with { Field = "available" },
            }, Ct));
        await Assert.ThrowsAnyAsync<DbException>(() => store.InsertMonitorAsync(
            valid with { MonitorId = "mon_" + Guid.NewGuid(), Trigger = "sometimes" }, Ct));
        Assert.Empty(await store.ListMonitorsAsync(null, Ct));
    }

    // ---- hooks ----

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Hook_insert_then_get_returns_the_same_values(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var hook = Hook(HookType.PreTransaction) with { Name = "fraud check", Active = true };

        await store.InsertHookAsync(hook, Ct);

        var stored = await store.GetHookAsync(hook.HookId, Ct);
        Assert.Equal(hook, stored);
        Assert.Null(stored!.LastRun);
        Assert.False(stored.LastSuccess);
        Assert.Null(await store.GetHookAsync("hook_missing", Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Hooks_list_oldest_first_all_or_of_one_type(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var newestPost = Hook(HookType.PostTransaction) with { CreatedAt = _t0.AddMinutes(2) };
        var oldestPre = Hook(HookType.PreTransaction) with { CreatedAt = _t0 };
        var middlePost = Hook(HookType.PostTransaction) with { CreatedAt = _t0.AddMinutes(1), Active = true };
        foreach (var hook in new[] { newestPost, oldestPre, middlePost })
        {
            await store.InsertHookAsync(hook, Ct);
        }

        Assert.Equal([oldestPre, middlePost, newestPost], await store.ListHooksAsync(null, Ct));
        Assert.Equal([oldestPre], await store.ListHooksAsync(HookType.PreTransaction, Ct));
        Assert.Equal([middlePost, newestPost], await store.ListHooksAsync(HookType.PostTransaction, Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Hook_update_keeps_id_created_at_and_the_last_run(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var hook = Hook(HookType.PreTransaction);
        await store.InsertHookAsync(hook, Ct);
        var ranAt = _t0.AddMinutes(5);
        await store.RecordHookRunAsync(hook.HookId, ranAt, success: true, Ct);
        var replacement = hook with
        {
            Name = "renamed",
            Url = "https://example.com/other",
            Type = HookType.PostTransaction,
            Active = true,
            TimeoutSeconds = 5,
            RetryCount = 10,
            CreatedAt = _t0.AddDays(9),
            LastRun = null,
            LastSuccess = false,
        };

        Assert.True(await store.UpdateHookAsync(replacement, Ct));

        var expected = replacement with { CreatedAt = hook.CreatedAt, LastRun = ranAt, LastSuccess = true };
        Assert.Equal(expected, await store.GetHookAsync(hook.HookId, Ct));
        Assert.Equal([expected], await store.ListHooksAsync(HookType.PostTransaction, Ct));
        Assert.Empty(await store.ListHooksAsync(HookType.PreTransaction, Ct));
        Assert.False(await store.UpdateHookAsync(replacement with { HookId = "hook_missing" }, Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Hook_runs_are_recorded_last_one_wins(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var hook = Hook(HookType.PostTransaction);
        await store.InsertHookAsync(hook, Ct);

        await store.RecordHookRunAsync(hook.HookId, _t0.AddSeconds(1), success: true, Ct);
        await store.RecordHookRunAsync(hook.HookId, _t0.AddSeconds(2), success: false, Ct);

        var stored = await store.GetHookAsync(hook.HookId, Ct);
        Assert.Equal(_t0.AddSeconds(2), stored!.LastRun);
        Assert.False(stored.LastSuccess);
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task Hook_delete_removes_it_once(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);
        var hook = Hook(HookType.PreTransaction);
        await store.InsertHookAsync(hook, Ct);

        Assert.True(await store.DeleteHookAsync(hook.HookId, Ct));

        Assert.Null(await store.GetHookAsync(hook.HookId, Ct));
        Assert.False(await store.DeleteHookAsync(hook.HookId, Ct));
        Assert.Empty(await store.ListHooksAsync(null, Ct));
    }

    [Theory]
    [MemberData(nameof(TestStores.Dialects), MemberType = typeof(TestStores))]
    public async Task The_schema_refuses_an_unknown_hook_type(string dialect)
    {
        await using var store = await TestStores.CreateAsync(dialect);

        await Assert.ThrowsAnyAsync<DbException>(() => store.InsertHookAsync(Hook("MID_TRANSACTION"), Ct));

        Assert.Empty(await store.ListHooksAsync(null, Ct));
    }

    private static async Task<string> NewBalanceAsync(ILedgerStore store)
    {
        var balance = new Balance
        {
            BalanceId = "bln_" + Guid.NewGuid(), LedgerId = Ledger.GeneralLedgerId, Currency = "USD", CreatedAt = _t0,
        };
        Assert.Equal(BalanceInsertOutcome.Inserted, await store.InsertBalanceAsync(balance, Ct));
        return balance.BalanceId;
    }

    private static BalanceMonitor Monitor(string balanceId, MonitorCondition condition) => new()
    {
        MonitorId = "mon_" + Guid.NewGuid(),
        BalanceId = balanceId,
        Condition = condition,
        CreatedAt = _t0,
    };

    private static Hook Hook(string type) => new()
    {
        HookId = "hook_" + Guid.NewGuid(),
        Url = "https://example.com/hook",
        Type = type,
        TimeoutSeconds = 30,
        RetryCount = 3,
        CreatedAt = _t0,
    };
}
