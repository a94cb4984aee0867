using System.Runtime.CompilerServices;

namespace Blnk.Core;

/// <summary>A broken invariant: a programmer error, never an expected failure.</summary>
public sealed class InvariantException(string message) : Exception(message);

/// <summary>
/// Assertions that stay on in Release builds. Expected failures (bad input, insufficient funds) are
/// outcome values; a failed assertion means the code is wrong and must stop loudly.
/// </summary>
public static class Invariant
{
    public static void Assert(bool condition, [CallerArgumentExpression(nameof(condition))] string? expression = null)
    {
        if (!condition)
        {
            throw new InvariantException($"invariant violated: {expression}");
        }
    }
}
