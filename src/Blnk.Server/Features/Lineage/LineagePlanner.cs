using System.Globalization;
using System.Numerics;
using System.Text.Json.Nodes;
using Blnk.Core;
using Blnk.Core.Balances;
using Blnk.Core.Lineage;
using Blnk.Core.Money;
using Blnk.Core.Transactions;
using Blnk.Server.Features.Balances;
using Blnk.Server.Writer;
using Blnk.Storage;

namespace Blnk.Server.Features.Lineage;

/// <summary>
/// Turns one lineage work row into the writer unit that performs it (contract §7): the shadow transactions,
/// the mappings and fund allocation to record, and the row's seq, which the writer marks processed in the same
/// database transaction.
/// </summary>
/// <remarks>
/// Shadow balances are read here, before the unit reaches the writer, and that is safe: rows are claimed in
/// order per identity (across processes, by the ordered claim), so no other row of this identity is in
/// progress, and the next one cannot be claimed until this row is marked processed, which happens in this
/// unit's own transaction. Only lineage units move shadow balances, so nothing changes them between this read
/// and the commit. A stale unit (its lease ran out and another process planned the row again) finds the row
/// already taken and writes nothing. Reading under the writer's locks instead would put allocation inside the
/// writer's batch planning, which knows nothing of lineage.
/// </remarks>
public sealed class LineagePlanner(ILedgerStore store, IdGenerator ids, IndicatorBalances indicatorBalances,
    TimeProvider clock)
{
    private const string TypeKey = "_lineage_type";

    public async Task<WriteUnit> PlanAsync(PendingLineageWork work, CancellationToken cancellationToken)
    {
        var row = await store.GetTransactionAsync(work.TransactionId, cancellationToken);
        Invariant.Assert(row is not null);
        var (operations, settlement) = work.Type switch
        {
            LineageType.Credit => await PlanCreditAsync(row!, work.Provider!, cancellationToken),
            LineageType.Debit => await PlanDebitAsync(row!, cancellationToken),
            LineageType.ShadowCommit => await PlanShadowResolutionAsync(row!, commit: true, cancellationToken),
            LineageType.ShadowVoid => await PlanShadowResolutionAsync(row!, commit: false, cancellationToken),
            _ => throw new InvariantException($"unknown lineage type '{work.Type}'"),
        };
        return new WriteUnit { Operations = operations, LineageWorkSeq = work.Seq, LineageSettlement = settlement };
    }

    /// <summary>Tagged money arrived: the provider's shadow balance pays the identity's aggregate.</summary>
    private async Task<(List<LedgerOperation>, LineageSettlement?)> PlanCreditAsync(TransactionRecord row,
        string provider, CancellationToken cancellationToken)
    {
        var destination = await TrackedBalanceAsync(row.Destination, cancellationToken);
        var accounts = await AccountsAsync(destination, provider, cancellationToken);
        var shadow = ShadowRow(row, accounts.ShadowBalanceId, accounts.AggregateBalanceId, row.PreciseAmount,
            LineageNames.ShadowReference(row.Reference, provider), $"Shadow credit from {provider}", new JsonObject
            {
                [LineageNames.ShadowForKey] = row.TransactionId, ["_provider"] = provider,
                ["_identity_id"] = accounts.IdentityId, [TypeKey] = "credit", ["_main_balance"] = destination.BalanceId,
            });
        return ([new PostTransaction(shadow, PostMode.ApplyNow)],
            new LineageSettlement([accounts.MappingFor(destination.BalanceId, Clock.Now(clock))]));
    }

    /// <summary>
    /// Money left a tracked balance: allocate it over the balance's providers, release each share back to its
    /// shadow balance, and let a tracked destination receive the same shares under the same providers.
    /// </summary>
    private async Task<(List<LedgerOperation>, LineageSettlement?)> PlanDebitAsync(TransactionRecord row,
        CancellationToken cancellationToken)
    {
        var source = await TrackedBalanceAsync(row.Source, cancellationToken);
        var destination = await store.GetBalanceAsync(row.Destination, cancellationToken);
        var mappings = await store.GetLineageMappingsAsync(source.BalanceId, cancellationToken);
        var shares = await AllocateAsync(row.PreciseAmount, source, mappings, cancellationToken);
        var operations = new List<LedgerOperation>();
        var received = new List<LineageMapping>();
        foreach (var share in shares)
        {
            var mapping = mappings.First(candidate => candidate.Provider == share.Provider);
            operations.Add(new PostTransaction(ReleaseRow(row, source, mapping, share.Amount), PostMode.ApplyNow));
            if (destination is { TrackFundLineage: true })
            {
                var accounts = await AccountsAsync(destination, share.Provider, cancellationToken);
                operations.Add(new PostTransaction(ReceiveRow(row, source, destination, accounts, share),
                    PostMode.ApplyNow));
                received.Add(accounts.MappingFor(destination.BalanceId, Clock.Now(clock)));
            }
        }
        return shares.Count == 0
            ? ([], null)
            : (operations, new LineageSettlement(received, row.TransactionId, FundAllocationJson(shares)));
    }

    private async Task<IReadOnlyList<LineageAllocationShare>> AllocateAsync(BigInteger amount, Balance source,
        IReadOnlyList<LineageMapping> mappings, CancellationToken cancellationToken)
    {
        var shadows = (await store.GetBalancesAsync([.. mappings.Select(mapping => mapping.ShadowBalanceId)],
            cancellationToken));
        var sources = mappings.Select(mapping =>
            new LineageSource(mapping.Provider, Available(shadows[mapping.ShadowBalanceId].Amounts))).ToList();
        return LineageAllocation.Allocate(amount, sources, LineageAllocation.ParseStrategy(source.AllocationStrategy));
    }

    /// <summary>
    /// What a provider's shadow balance can still give: received (debits) minus spent (credits) minus releases
    /// held by inflight debits, so a second debit cannot be attributed to money a pending hold already took.
    /// </summary>
    private static BigInteger Available(BalanceAmounts shadow) =>
        shadow.DebitBalance - shadow.CreditBalance - shadow.InflightCreditBalance;

    /// <summary>
    /// The main hold was committed or voided: its shadow holds follow. After the main hold's commits up to and
    /// including this one, each shadow hold has committed the same fraction of its amount (rounded down, so
    /// exact once the main hold is fully committed); a void releases what the shadow holds still hold.
    /// </summary>
    private async Task<(List<LedgerOperation>, LineageSettlement?)> PlanShadowResolutionAsync(
        TransactionRecord resolution, bool commit, CancellationToken cancellationToken)
    {
        var hold = await store.GetTransactionAsync(resolution.ParentTransaction, cancellationToken);
        Invariant.Assert(hold is not null);
        var shadowHolds = (await LineageLookup.ShadowTransactionsAsync(store, hold!, cancellationToken))
            .Where(row => row.Status == TransactionStatus.Inflight).ToList();
        if (shadowHolds.Count == 0)
        {
            return ([], null);
        }
        var progress = await store.GetHoldProgressAsync([.. shadowHolds.Select(row => row.TransactionId)],
            cancellationToken);
        var committed = commit ? await CommittedThroughAsync(hold!, resolution, cancellationToken) : 0;
        var operations = new List<LedgerOperation>();
        foreach (var shadow in shadowHolds)
        {
            var done = progress[shadow.TransactionId];
            if (done.Voided || done.Committed == shadow.PreciseAmount)
            {
                continue;
            }
            var due = shadow.PreciseAmount * committed / hold!.PreciseAmount - done.Committed;
            if (!commit || due.Sign > 0)
            {
                operations.Add(new ResolveInflight(shadow.TransactionId, commit, commit ? due : null,
                    ids.New(IdGenerator.TransactionPrefix),
                    $"{shadow.Reference}_{(commit ? "commit" : "void")}_{resolution.TransactionId}", Clock.Now(clock)));
            }
        }
        return (operations, null);
    }

    /// <summary>
    /// What the hold's commits up to and including <paramref name="commit"/> committed, in log order. Later
    /// commits are not counted, so every commit of the main hold gets its own shadow commits.
    /// </summary>
    private async Task<BigInteger> CommittedThroughAsync(TransactionRecord hold, TransactionRecord commit,
        CancellationToken cancellationToken)
    {
        var committed = BigInteger.Zero;
        foreach (var row in await store.FindFamilyAsync(hold.TransactionId, [TransactionStatus.Applied],
            cancellationToken))
        {
            if (row.ParentTransaction == hold.TransactionId)
            {
                committed += row.PreciseAmount;
            }
            if (row.TransactionId == commit.TransactionId)
            {
                break;
            }
        }
        return committed;
    }

    private TransactionRecord ReleaseRow(TransactionRecord row, Balance source, LineageMapping mapping,
        BigInteger amount) =>
        ShadowRow(row, mapping.AggregateBalanceId, mapping.ShadowBalanceId, amount,
            LineageNames.ReleaseReference(row.Reference, mapping.Provider), $"Release {mapping.Provider} funds",
            new JsonObject
            {
                [LineageNames.ShadowForKey] = row.TransactionId, ["_provider"] = mapping.Provider,
                [TypeKey] = "release", ["_main_balance"] = source.BalanceId,
                ["_allocation"] = source.AllocationStrategy,
            });

    private TransactionRecord ReceiveRow(TransactionRecord row, Balance source, Balance destination,
        LineageAccounts accounts, LineageAllocationShare share) =>
        ShadowRow(row, accounts.ShadowBalanceId, accounts.AggregateBalanceId, share.Amount,
            LineageNames.ReceiveReference(row.Reference, share.Provider), $"Receive {share.Provider} funds",
            new JsonObject
            {
                [LineageNames.ShadowForKey] = row.TransactionId, ["_provider"] = share.Provider, [TypeKey] = "receive",
                ["_main_balance"] = destination.BalanceId, ["_from_balance"] = source.BalanceId,
            });

    /// <summary>
    /// A shadow transaction: applied at once, inflight when the main transaction is a hold, and allowed to
    /// overdraw (an aggregate is paid only by its own shadows, and a refusal would stall the identity's lineage).
    /// </summary>
    private TransactionRecord ShadowRow(TransactionRecord main, string source, string destination,
        BigInteger amount, string reference, string description, JsonObject metaData)
    {
        var now = Clock.Now(clock);
        return new TransactionRecord
        {
            TransactionId = ids.New(IdGenerator.TransactionPrefix),
            Source = source,
            Destination = destination,
            Reference = reference,
            Currency = main.Currency,
            Description = description,
            Status = TransactionStatus.Applied,
            Hash = TransactionHash.Compute(Precision.FormatShortest(Precision.ToAmount(amount, main.Precision)),
                reference, main.Currency, source, destination),
            PreciseAmount = amount,
            Precision = main.Precision,
            AllowOverdraft = true,
            Inflight = main.Inflight,
            SkipQueue = true,
            CreatedAt = now,
            EffectiveDate = now,
            MetaDataJson = metaData.ToJsonString(),
        };
    }

    private static string FundAllocationJson(IReadOnlyList<LineageAllocationShare> shares) =>
        new JsonArray([.. shares.Select(share => (JsonNode)new JsonObject
        {
            ["provider"] = share.Provider,
            ["amount"] = JsonNode.Parse(share.Amount.ToString(CultureInfo.InvariantCulture)),
        })]).ToJsonString();

    private async Task<Balance> TrackedBalanceAsync(string balanceId, CancellationToken cancellationToken)
    {
        var balance = await store.GetBalanceAsync(balanceId, cancellationToken);
        Invariant.Assert(balance is { TrackFundLineage: true });
        return balance!;
    }

    /// <summary>The shadow of (identity, provider, currency) and the identity's aggregate, made on first use.</summary>
    private async Task<LineageAccounts> AccountsAsync(Balance tracked, string provider,
        CancellationToken cancellationToken)
    {
        var identity = tracked.IdentityId is { } identityId
            ? await store.GetIdentityAsync(identityId, cancellationToken)
            : null;
        if (identity is null)
        {
            // Retried with backoff: a tracked balance is created with an identity (contract §4.3).
            throw new InvalidOperationException($"tracked balance {tracked.BalanceId} has no identity");
        }
        var identifier = LineageNames.IdentityIdentifier(identity);
        var shadow = await indicatorBalances.EnsureAsync(LineageNames.ShadowIndicator(provider, identifier),
            tracked.Currency, Clock.Now(clock), cancellationToken);
        var aggregate = await indicatorBalances.EnsureAsync(LineageNames.AggregateIndicator(identifier),
            tracked.Currency, Clock.Now(clock), cancellationToken);
        return new LineageAccounts(provider, identity.IdentityId, shadow, aggregate);
    }

    private sealed record LineageAccounts(string Provider, string IdentityId, string ShadowBalanceId,
        string AggregateBalanceId)
    {
        public LineageMapping MappingFor(string balanceId, DateTime now) =>
            new(balanceId, Provider, ShadowBalanceId, AggregateBalanceId, IdentityId, now);
    }
}
