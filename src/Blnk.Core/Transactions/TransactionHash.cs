using System.Security.Cryptography;
using System.Text;

namespace Blnk.Core.Transactions;

/// <summary>Blnk's per-row <c>hash</c> (contract §6.13), from the values the caller sent.</summary>
public static class TransactionHash
{
    public static string Compute(string amountText, string reference, string currency, string source,
        string destination)
    {
        var input = Encoding.UTF8.GetBytes(amountText + reference + currency + source + destination);
        return Convert.ToHexStringLower(SHA256.HashData(input));
    }
}
