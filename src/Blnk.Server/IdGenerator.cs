namespace Blnk.Server;

/// <summary>Blnk's ids: <c>&lt;prefix&gt;_&lt;uuid v4&gt;</c>.</summary>
public sealed class IdGenerator
{
    public const string TransactionPrefix = "txn";
    public const string LedgerPrefix = "ldg";
    public const string BalancePrefix = "bln";
    public const string ActionPrefix = "act";
    public const string BulkPrefix = "bulk";
    public const string ReferencePrefix = "ref";
    public const string MonitorPrefix = "mon";
    public const string HookPrefix = "hook";
    public const string IdentityPrefix = "idt";

    public string New(string prefix) => $"{prefix}_{Guid.NewGuid()}";
}

/// <summary>The server's clock, at the microsecond precision both databases store.</summary>
public static class Clock
{
    public static DateTime Now(TimeProvider clock)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        return new DateTime(now.Ticks - now.Ticks % 10, DateTimeKind.Utc);
    }
}
