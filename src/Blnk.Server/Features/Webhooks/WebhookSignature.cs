using System.Security.Cryptography;
using System.Text;

namespace Blnk.Server.Features.Webhooks;

/// <summary>
/// Blnk's webhook and hook signature (§8.1): <c>X-Blnk-Signature = hex(HMAC-SHA256(secret_key,
/// "&lt;X-Blnk-Timestamp&gt;.&lt;raw body&gt;"))</c>, the timestamp in unix seconds.
/// </summary>
public static class WebhookSignature
{
    public const string TimestampHeader = "X-Blnk-Timestamp";
    public const string SignatureHeader = "X-Blnk-Signature";

    public static string Compute(string secretKey, long unixSeconds, string body)
    {
        var message = Encoding.UTF8.GetBytes($"{unixSeconds}.{body}");
        return Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secretKey), message));
    }
}
