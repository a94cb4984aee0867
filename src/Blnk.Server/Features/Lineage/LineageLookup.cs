using Blnk.Core.Lineage;
using Blnk.Core.Transactions;
using Blnk.Storage;

namespace Blnk.Server.Features.Lineage;

/// <summary>Finds a transaction's shadow transactions (contract §7), for the processor and the endpoint.</summary>
/// <remarks>
/// Shadow references are <c>&lt;reference&gt;_shadow|_release|_receive_&lt;provider&gt;</c>, and every provider a
/// transaction's shadows can name is mapped to its source or its destination. So they are found by unique
/// reference (plus their commit/void children by parent), both indexed, instead of searching every row's
/// meta_data for <c>_shadow_for</c>, which neither database can index cheaply for all rows.
/// </remarks>
public static class LineageLookup
{
    public static async Task<IReadOnlyList<TransactionRecord>> ShadowTransactionsAsync(ILedgerStore store,
        TransactionRecord row, CancellationToken cancellationToken)
    {
        var providers = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var balanceId in new[] { row.Source, row.Destination }.Distinct(StringComparer.Ordinal))
        {
            foreach (var mapping in await store.GetLineageMappingsAsync(balanceId, cancellationToken))
            {
                providers.Add(mapping.Provider);
            }
        }
        return await store.FindShadowTransactionsAsync(row.TransactionId,
            [.. LineageNames.ShadowReferences(row.Reference, providers)], cancellationToken);
    }
}
