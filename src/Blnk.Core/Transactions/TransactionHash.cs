using System.Security.Cryptography;
using System.Text;

namespace Blnk.Core.Transactions;

/// <summary>Blnk's per-row <c>hash</c> (contract §6.13), from the values the caller sent.</summary>
public static class TransactionHash
{
    private const int StackLimit = 512;

    public static string Compute(string amountText, string reference, string currency, string source,
        string destination)
    {
        // The parts' concatenation, encoded once as UTF-8 (so exactly the bytes of the concatenated string), on the
        // stack when it is small, as it nearly always is.
        var length = amountText.Length + reference.Length + currency.Length + source.Length + destination.Length;
        var text = length <= StackLimit ? stackalloc char[length] : new char[length];
        var written = 0;
        foreach (var part in (ReadOnlySpan<string>)[amountText, reference, currency, source, destination])
        {
            part.CopyTo(text[written..]);
            written += part.Length;
        }
        var byteCount = Encoding.UTF8.GetByteCount(text);
        var input = byteCount <= StackLimit * 3 ? stackalloc byte[byteCount] : new byte[byteCount];
        Encoding.UTF8.GetBytes(text, input);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(input, hash);
        return Convert.ToHexStringLower(hash);
    }
}
