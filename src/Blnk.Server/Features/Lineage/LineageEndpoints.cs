using System.Numerics;
using System.Text.Json.Nodes;
using Blnk.Core.Lineage;
using Blnk.Core.Transactions;
using Blnk.Server.Errors;
using Blnk.Server.Json;
using Blnk.Storage;

namespace Blnk.Server.Features.Lineage;

/// <summary>
/// <c>GET /balances/{id}/lineage</c> and <c>GET /transactions/{id}/lineage</c> (contract §7): where a tracked
/// balance's money came from, and how a transaction was attributed. Lineage is written asynchronously, so both
/// show what the lineage processor has done so far (normally within a second of the transfer).
/// </summary>
public static class LineageEndpoints
{
    public static void MapLineageEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/balances/{id}/lineage", GetBalanceLineageAsync).WithName("Balances_GetLineage");
        routes.MapGet("/transactions/{id}/lineage", GetTransactionLineageAsync).WithName("Transactions_GetLineage");
    }

    /// <summary>
    /// Per provider: received (the shadow's debits), spent (its credits) and available (the difference);
    /// <c>total_with_lineage</c> sums what is available.
    /// </summary>
    private static async Task<IResult> GetBalanceLineageAsync(string id, ILedgerStore store,
        CancellationToken cancellationToken)
    {
        var balance = await store.GetBalanceAsync(id, cancellationToken);
        if (balance is null)
        {
            return new ErrorResult(new ApiError(ErrorCodes.BalanceNotFound, $"Balance with ID '{id}' not found"));
        }
        if (!balance.TrackFundLineage)
        {
            return new ErrorResult(new ApiError(ErrorCodes.BadRequest,
                $"balance {id} does not have fund lineage tracking enabled"));
        }
        var mappings = await store.GetLineageMappingsAsync(id, cancellationToken);
        var shadows = (await store.GetBalancesAsync([.. mappings.Select(mapping => mapping.ShadowBalanceId)],
            cancellationToken));
        var providers = mappings.Select(mapping =>
        {
            var shadow = shadows[mapping.ShadowBalanceId].Amounts;
            return new ProviderLineageWire
            {
                Provider = mapping.Provider,
                Amount = shadow.DebitBalance,
                Available = shadow.DebitBalance - shadow.CreditBalance,
                Spent = shadow.CreditBalance,
                ShadowBalanceId = mapping.ShadowBalanceId,
            };
        }).ToList();
        return TypedResults.Json(new BalanceLineageResponse
        {
            BalanceId = id,
            TotalWithLineage = providers.Aggregate(BigInteger.Zero, (sum, provider) => sum + provider.Available),
            AggregateBalanceId = mappings.Count > 0 ? mappings[0].AggregateBalanceId : "",
            Providers = providers,
        }, Wire.Lineage.BalanceLineageResponse);
    }

    /// <summary>
    /// The transaction's <c>BLNK_FUND_ALLOCATION</c> and its shadow transactions. A QUEUED transaction is
    /// answered for its applied outcome (<c>&lt;reference&gt;_q</c>), which is the row lineage follows.
    /// </summary>
    private static async Task<IResult> GetTransactionLineageAsync(string id, ILedgerStore store,
        CancellationToken cancellationToken)
    {
        var row = await store.GetTransactionAsync(id, cancellationToken);
        if (row is null)
        {
            return new ErrorResult(new ApiError(ErrorCodes.TransactionNotFound,
                $"Transaction with ID '{id}' not found"));
        }
        var target = await AppliedOutcomeAsync(store, row, cancellationToken) ?? row;
        var shadows = await LineageLookup.ShadowTransactionsAsync(store, target, cancellationToken);
        var metaData = target.MetaDataJson is null ? null : JsonNode.Parse(target.MetaDataJson) as JsonObject;
        return TypedResults.Json(new TransactionLineageResponse
        {
            TransactionId = id,
            FundAllocation = metaData?[LineageNames.FundAllocationKey]?.DeepClone(),
            ShadowTransactions = [.. shadows.Select(shadow => shadow.ToWire())],
        }, Wire.Lineage.TransactionLineageResponse);
    }

    private static async Task<TransactionRecord?> AppliedOutcomeAsync(ILedgerStore store, TransactionRecord row,
        CancellationToken cancellationToken)
    {
        if (row.Status is not (TransactionStatus.Queued or TransactionStatus.Scheduled))
        {
            return null;
        }
        var outcome = await store.GetTransactionByReferenceAsync(row.Reference + "_q", cancellationToken);
        return outcome?.ParentTransaction == row.TransactionId ? outcome : null;
    }
}
