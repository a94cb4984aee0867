using System.Security.Cryptography;

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

    /// <summary>Random bytes for 64 ids per thread, drawn at once: <see cref="Guid.CreateVersion7()"/> reads 16
    /// bytes from <c>/dev/urandom</c> in a system call of its own for every id, and the write path makes one per
    /// transfer.</summary>
    private const int BufferedBytes = 64 * 16;

    [ThreadStatic]
    private static byte[]? t_random;

    [ThreadStatic]
    private static int t_remaining;

    public string New(string prefix) => $"{prefix}_{NewVersion7(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())}";

    /// <summary>An RFC 9562 version 7 UUID: 48 bits of Unix milliseconds, the version, 12 random bits, the
    /// variant and 62 random bits.</summary>
    private static Guid NewVersion7(long unixMilliseconds)
    {
        Span<byte> bytes = stackalloc byte[16];
        NextRandom(bytes);
        for (var index = 0; index < 6; index++)
        {
            bytes[index] = (byte)(unixMilliseconds >> (40 - 8 * index));
        }
        bytes[6] = (byte)(0x70 | bytes[6] & 0x0F);
        bytes[8] = (byte)(0x80 | bytes[8] & 0x3F);
        return new Guid(bytes, bigEndian: true);
    }

    private static void NextRandom(Span<byte> destination)
    {
        var random = t_random ??= new byte[BufferedBytes];
        if (t_remaining < destination.Length)
        {
            RandomNumberGenerator.Fill(random);
            t_remaining = random.Length;
        }
        random.AsSpan(random.Length - t_remaining, destination.Length).CopyTo(destination);
        t_remaining -= destination.Length;
    }
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
