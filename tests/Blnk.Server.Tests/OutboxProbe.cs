using System.Data.Common;
using System.Globalization;
using Blnk.TestSupport;

namespace Blnk.Server.Tests;

/// <summary>
/// Counts rows of the webhook outbox straight from the server's database: how tests see that a monitor fired or a
/// hook call was recorded, whether or not anything delivers them.
/// </summary>
public static class OutboxProbe
{
    /// <summary>Rows for one monitor's <c>call_back_url</c> (target <c>callback</c>, keyed by monitor id).</summary>
    public static Task<long> MonitorCallbacksAsync(string dataSource, string monitorId) =>
        CountAsync(dataSource, "target = 'callback' AND event = 'balance.monitor' AND entity_key = @value", monitorId);

    /// <summary>Rows calling one transaction hook.</summary>
    public static Task<long> HookCallsAsync(string dataSource, string hookId) =>
        CountAsync(dataSource, "target = 'hook' AND hook_id = @value", hookId);

    private static async Task<long> CountAsync(string dataSource, string where, string value)
    {
        await using DbConnection connection = await TestStores.OpenRawConnectionAsync(dataSource);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM webhook_outbox WHERE {where}";
        var parameter = command.CreateParameter();
        parameter.ParameterName = "value";
        parameter.Value = value;
        command.Parameters.Add(parameter);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }
}
