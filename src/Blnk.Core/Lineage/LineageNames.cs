using Blnk.Core.Identities;

namespace Blnk.Core.Lineage;

/// <summary>
/// The names fund lineage gives things (contract §7): the identity identifier, the shadow and aggregate
/// <c>@indicator</c> balances in the General Ledger, the shadow transactions' references, and the metadata keys.
/// </summary>
public static class LineageNames
{
    /// <summary>Read on a credit: which provider the money comes from.</summary>
    public const string ProviderKey = "BLNK_LINEAGE_PROVIDER";

    /// <summary>Written on a debit: which providers it was attributed to.</summary>
    public const string FundAllocationKey = "BLNK_FUND_ALLOCATION";

    /// <summary>On every shadow transaction: the id of the transaction it shadows.</summary>
    public const string ShadowForKey = "_shadow_for";

    /// <summary>
    /// Characters in a provider tag that is honoured. Shadow references append the provider (and a commit's id)
    /// to a reference of up to <see cref="Limits.ReferenceLengthMax"/> characters; this keeps them within what
    /// PostgreSQL can index, so a long tag cannot make an identity's lineage fail for ever.
    /// </summary>
    public const int ProviderLengthMax = 64;

    private const int IdentityIdPrefixLength = 8;

    /// <summary>
    /// <c>lower(first_name + "_" + last_name)</c> when both are set, else the organization name lowercased with
    /// spaces as <c>_</c>; then <c>_</c> and the first 8 characters of the id (e.g. <c>john_doe_idt_4dd1</c>).
    /// Without names, the raw identity id.
    /// </summary>
    public static string IdentityIdentifier(Identity identity)
    {
        string name;
        if (identity.FirstName.Length > 0 && identity.LastName.Length > 0)
        {
            name = (identity.FirstName + "_" + identity.LastName).ToLowerInvariant();
        }
        else if (identity.OrganizationName.Length > 0)
        {
            name = identity.OrganizationName.ToLowerInvariant().Replace(' ', '_');
        }
        else
        {
            return identity.IdentityId;
        }
        var id = identity.IdentityId;
        return $"{name}_{(id.Length > IdentityIdPrefixLength ? id[..IdentityIdPrefixLength] : id)}";
    }

    /// <summary>Per (identity, provider, currency): received from the provider (debits) and spent (credits).</summary>
    public static string ShadowIndicator(string provider, string identifier) => $"@{provider}_{identifier}_lineage";

    /// <summary>Per (identity, currency): the other side of every shadow transaction of the identity.</summary>
    public static string AggregateIndicator(string identifier) => $"@{identifier}_lineage";

    public static string ShadowReference(string reference, string provider) => $"{reference}_shadow_{provider}";

    public static string ReleaseReference(string reference, string provider) => $"{reference}_release_{provider}";

    public static string ReceiveReference(string reference, string provider) => $"{reference}_receive_{provider}";

    /// <summary>Every reference a transaction's shadow transactions can have, for the given providers.</summary>
    public static IEnumerable<string> ShadowReferences(string reference, IEnumerable<string> providers) =>
        providers.SelectMany(provider => new[]
        {
            ShadowReference(reference, provider), ReleaseReference(reference, provider),
            ReceiveReference(reference, provider),
        });
}
