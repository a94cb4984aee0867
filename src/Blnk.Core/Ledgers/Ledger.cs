namespace Blnk.Core.Ledgers;

/// <summary>A ledger groups balances. <c>general_ledger_id</c> is seeded and holds the indicator balances.</summary>
public sealed record Ledger(string LedgerId, string Name, DateTime CreatedAt, string? MetaDataJson)
{
    public const string GeneralLedgerId = "general_ledger_id";
}
