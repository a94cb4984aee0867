namespace Blnk.Server;

/// <summary>
/// Blnk's ids, <c>&lt;prefix&gt;_&lt;uuid&gt;</c>, with a time-ordered (version 7) UUID where Blnk uses a random one
/// (decision 30): a new row's id, its generated reference and a commit's link to its hold then land at the right
/// edge of their indexes instead of on a random page of each.
/// </summary>
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

    public string New(string prefix) => $"{prefix}_{Guid.CreateVersion7()}";
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
