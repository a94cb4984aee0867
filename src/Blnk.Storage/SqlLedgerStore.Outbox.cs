namespace Blnk.Storage;

public partial interface ILedgerStore
{
    /// <summary>Records a webhook event for delivery (<c>webhook_outbox</c>); the payload is JSON text.</summary>
    Task AppendWebhookEventAsync(string eventName, string payloadJson, DateTime now,
        CancellationToken cancellationToken);
}

public partial class SqlLedgerStore
{
    public async Task AppendWebhookEventAsync(string eventName, string payloadJson, DateTime now,
        CancellationToken cancellationToken)
    {
        await using var connection = await SqlDialect.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO webhook_outbox (event, payload, created_at) VALUES (@event, @payload, @now)";
        SqlDialect.Add(command, "event", eventName);
        SqlDialect.AddJson(command, "payload", payloadJson);
        SqlDialect.AddTime(command, "now", now);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
