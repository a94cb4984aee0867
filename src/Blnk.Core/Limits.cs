using System.Numerics;

namespace Blnk.Core;

/// <summary>
/// Every bound the ledger enforces on input, in one place. Each keeps bad input a clear 400 instead of
/// a database error: PostgreSQL cannot index text longer than about 2.7 kB, and a float <c>amount</c>
/// must stay finite on the wire.
/// </summary>
public static class Limits
{
    /// <summary>Characters in a reference (uniquely indexed; 4 bytes per character stays under the index limit).</summary>
    public const int ReferenceLengthMax = 512;

    /// <summary>Characters in a balance, ledger or identity id, an indicator or a currency.</summary>
    public const int IdentifierLengthMax = 256;

    /// <summary>Decimal digits of a precise amount: far beyond any currency or token, and finite as a float.</summary>
    public const int PreciseAmountDigitsMax = 63;

    /// <summary>The smallest precise amount that is too large.</summary>
    public static readonly BigInteger PreciseAmountExclusiveMax = BigInteger.Pow(10, PreciseAmountDigitsMax);

    /// <summary>Characters in a URL the server calls (a monitor's <c>call_back_url</c>, a hook's <c>url</c>).</summary>
    public const int UrlLengthMax = 2048;
}
