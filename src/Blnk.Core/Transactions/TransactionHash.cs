using System.Security.Cryptography;
using System.Text;

namespace Blnk.Core.Transactions;

/// <summary>Blnk's per-row <c>hash</c> (contract §6.13), from the values the caller sent.</summary>
public static class TransactionHash
{
    private const int StackLimit = 1024;

    public static string Compute(string amountText, string reference, string currency, string source,
        string destination)
    {
        // The concatenation's UTF-8 bytes go on the stack when they fit, as they nearly always do.
        var text = string.Concat(amountText, reference, currency, source, destination);
        var byteCount = Encoding.UTF8.GetByteCount(text);
        var input = byteCount <= StackLimit ? stackalloc byte[byteCount] : new byte[byteCount];
        Encoding.UTF8.GetBytes(text, input);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(input, hash);
        return Convert.ToHexStringLower(hash);
    }
}
