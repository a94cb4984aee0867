using System.Data.Common;
using Blnk.Core.Hooks;
using Blnk.Core.Monitors;

namespace Blnk.Storage;

public partial interface ILedgerStore
{
    /// <summary>Inserts a monitor; false when its balance does not exist.</summary>
    Task<bool> InsertMonitorAsync(BalanceMonitor monitor, CancellationToken cancellationToken);

    Task<BalanceMonitor?> GetMonitorAsync(string monitorId, CancellationToken cancellationToken);

    /// <summary>Every monitor (of one balance when <paramref name="balanceId"/> is given), oldest first.</summary>
    Task<IReadOnlyList<BalanceMonitor>> ListMonitorsAsync(string? balanceId, CancellationToken cancellationToken);

    /// <summary>Replaces a monitor's balance, condition, description, callback and trigger; false when unknown.</summary>
    Task<bool> UpdateMonitorAsync(BalanceMonitor monitor, CancellationToken cancellationToken);

    Task<bool> DeleteMonitorAsync(string monitorId, CancellationToken cancellationToken);

    Task InsertHookAsync(Hook hook, CancellationToken cancellationToken);

    Task<Hook?> GetHookAsync(string hookId, CancellationToken cancellationToken);

    /// <summary>Every hook (of one type when <paramref name="type"/> is given), oldest first.</summary>
    Task<IReadOnlyList<Hook>> ListHooksAsync(string? type, CancellationToken cancellationToken);

    /// <summary>Replaces a hook's name, url, type, active flag, timeout and retry count; false when unknown.</summary>
    Task<bool> UpdateHookAsync(Hook hook, CancellationToken cancellationToken);

    Task<bool> DeleteHookAsync(string hookId, CancellationToken cancellationToken);

    /// <summary>Records the outcome of a hook call (<c>last_run</c>, <c>last_success</c>).</summary>
    Task RecordHookRunAsync(string hookId, DateTime at, bool success, CancellationToken cancellationToken);
}

public partial class SqlLedgerStore
{
    private const string MonitorColumns = "monitor_id, balance_id, field, operator, value, precision, precise_value, " +
        "description, call_back_url, trigger, created_at";

    private const string HookColumns = "hook_id, name, url, type, active, timeout, retry_count, created_at, last_run, " +
        "last_success";

    public async Task<bool> InsertMonitorAsync(BalanceMonitor monitor, CancellationToken cancellationToken)
    {
        try
        {
            await ExecuteAsync($"INSERT INTO balance_monitors ({MonitorColumns}) VALUES (@id, @balance, @field, " +
                "@operator, @value, @precision, @precise, @description, @callback, @trigger, @created)",
                command => BindMonitor(command, monitor), cancellationToken);
            return true;
        }
        catch (DbException exception) when (dialect.IsForeignKeyViolation(exception))
        {
            return false;
        }
    }

    public async Task<BalanceMonitor?> GetMonitorAsync(string monitorId, CancellationToken cancellationToken)
    {
        var monitors = await QueryAsync($"SELECT {MonitorColumns} FROM balance_monitors WHERE monitor_id = @id",
            command => SqlDialect.Add(command, "id", monitorId), ReadMonitor, cancellationToken);
        return monitors.Count > 0 ? monitors[0] : null;
    }

    public Task<IReadOnlyList<BalanceMonitor>> ListMonitorsAsync(string? balanceId,
        CancellationToken cancellationToken) =>
        QueryAsync($"SELECT {MonitorColumns} FROM balance_monitors " +
            $"{(balanceId is null ? "" : "WHERE balance_id = @balance ")}ORDER BY created_at, monitor_id",
            command => SqlDialect.Add(command, "balance", balanceId), ReadMonitor, cancellationToken);

    public async Task<bool> UpdateMonitorAsync(BalanceMonitor monitor, CancellationToken cancellationToken) =>
        await ExecuteAsync("UPDATE balance_monitors SET balance_id = @balance, field = @field, operator = @operator, " +
            "value = @value, precision = @precision, precise_value = @precise, description = @description, " +
            "call_back_url = @callback, trigger = @trigger WHERE monitor_id = @id",
            command => BindMonitor(command, monitor), cancellationToken) == 1;

    public async Task<bool> DeleteMonitorAsync(string monitorId, CancellationToken cancellationToken) =>
        await ExecuteAsync("DELETE FROM balance_monitors WHERE monitor_id = @id",
            command => SqlDialect.Add(command, "id", monitorId), cancellationToken) == 1;

    public Task InsertHookAsync(Hook hook, CancellationToken cancellationToken) =>
        ExecuteAsync($"INSERT INTO hooks ({HookColumns}) VALUES (@id, @name, @url, @type, @active, @timeout, @retries, " +
            "@created, @lastRun, @lastSuccess)", command => BindHook(command, hook), cancellationToken);

    public async Task<Hook?> GetHookAsync(string hookId, CancellationToken cancellationToken)
    {
        var hooks = await QueryAsync($"SELECT {HookColumns} FROM hooks WHERE hook_id = @id",
            command => SqlDialect.Add(command, "id", hookId), ReadHook, cancellationToken);
        return hooks.Count > 0 ? hooks[0] : null;
    }

    public Task<IReadOnlyList<Hook>> ListHooksAsync(string? type, CancellationToken cancellationToken) =>
        QueryAsync($"SELECT {HookColumns} FROM hooks {(type is null ? "" : "WHERE type = @type ")}" +
            "ORDER BY created_at, hook_id", command => SqlDialect.Add(command, "type", type), ReadHook,
            cancellationToken);

    public async Task<bool> UpdateHookAsync(Hook hook, CancellationToken cancellationToken) =>
        await ExecuteAsync("UPDATE hooks SET name = @name, url = @url, type = @type, active = @active, " +
            "timeout = @timeout, retry_count = @retries WHERE hook_id = @id",
            command => BindHook(command, hook), cancellationToken) == 1;

    public async Task<bool> DeleteHookAsync(string hookId, CancellationToken cancellationToken) =>
        await ExecuteAsync("DELETE FROM hooks WHERE hook_id = @id", command => SqlDialect.Add(command, "id", hookId),
            cancellationToken) == 1;

    public Task RecordHookRunAsync(string hookId, DateTime at, bool success, CancellationToken cancellationToken) =>
        ExecuteAsync("UPDATE hooks SET last_run = @at, last_success = @success WHERE hook_id = @id", command =>
        {
            SqlDialect.Add(command, "id", hookId);
            dialect.AddTime(command, "at", at);
            SqlDialect.Add(command, "success", success);
        }, cancellationToken);

    private void BindMonitor(DbCommand command, BalanceMonitor monitor)
    {
        SqlDialect.Add(command, "id", monitor.MonitorId);
        SqlDialect.Add(command, "balance", monitor.BalanceId);
        SqlDialect.Add(command, "field", monitor.Condition.Field);
        SqlDialect.Add(command, "operator", monitor.Condition.Operator);
        SqlDialect.Add(command, "value", monitor.Condition.Value);
        SqlDialect.Add(command, "precision", monitor.Condition.Precision);
        dialect.AddAmount(command, "precise", monitor.Condition.PreciseValue);
        SqlDialect.Add(command, "description", monitor.Description);
        SqlDialect.Add(command, "callback", monitor.CallBackUrl);
        SqlDialect.Add(command, "trigger", monitor.Trigger);
        dialect.AddTime(command, "created", monitor.CreatedAt);
    }

    private BalanceMonitor ReadMonitor(DbDataReader reader) => new()
    {
        MonitorId = reader.GetString(0),
        BalanceId = reader.GetString(1),
        Condition = new MonitorCondition(reader.GetString(2), reader.GetString(3), reader.GetDouble(4),
            reader.GetDouble(5), dialect.ReadAmount(reader, 6)),
        Description = reader.GetString(7),
        CallBackUrl = reader.GetString(8),
        Trigger = reader.GetString(9),
        CreatedAt = dialect.ReadTime(reader, 10)!.Value,
    };

    private void BindHook(DbCommand command, Hook hook)
    {
        SqlDialect.Add(command, "id", hook.HookId);
        SqlDialect.Add(command, "name", hook.Name);
        SqlDialect.Add(command, "url", hook.Url);
        SqlDialect.Add(command, "type", hook.Type);
        SqlDialect.Add(command, "active", hook.Active);
        SqlDialect.Add(command, "timeout", hook.TimeoutSeconds);
        SqlDialect.Add(command, "retries", hook.RetryCount);
        dialect.AddTime(command, "created", hook.CreatedAt);
        dialect.AddTime(command, "lastRun", hook.LastRun);
        SqlDialect.Add(command, "lastSuccess", hook.LastSuccess);
    }

    private Hook ReadHook(DbDataReader reader) => new()
    {
        HookId = reader.GetString(0),
        Name = reader.GetString(1),
        Url = reader.GetString(2),
        Type = reader.GetString(3),
        Active = reader.GetBoolean(4),
        TimeoutSeconds = reader.GetInt32(5),
        RetryCount = reader.GetInt32(6),
        CreatedAt = dialect.ReadTime(reader, 7)!.Value,
        LastRun = dialect.ReadTime(reader, 8),
        LastSuccess = reader.GetBoolean(9),
    };
}
