using System.Text.Json.Nodes;
using Blnk.Core;
using Blnk.Core.Balances;
using Blnk.Core.Lineage;
using Blnk.Core.Monitors;
using Blnk.Core.Money;
using Blnk.Core.Transactions;
using Blnk.Storage;

namespace Blnk.Server.Writer;

/// <summary>
/// Decides every unit of one batch, in arrival order, against the balances and holds loaded (and
/// locked) for the batch. Each unit works on copies (<see cref="UnitScratch"/>) that replace the
/// batch's state only when the unit is accepted, so an atomic unit that fails leaves no trace. Pure
/// apart from that in-memory state; the writer persists what is collected here.
/// </summary>
public sealed class BatchPlan(
    BatchReads reads,
    Dictionary<string, Hold> holds,
    Func<string> newActionId,
    Func<string, IReadOnlyList<BalanceMonitor>> monitorsOf,
    QueueHandoff? handoff = null)
{
    private readonly Dictionary<string, Balance> balances = reads.Balances;
    private readonly HashSet<string> usedReferences = reads.ExistingReferences;

    public List<TransactionRecord> Rows { get; } = [];
    public List<QueueEntry> QueueEntries { get; } = [];

    /// <summary>The queued rows whose entries are leased to this process, for the writer to apply next.</summary>
    public List<TransactionRecord> HandedOff { get; } = [];

    /// <summary>The queued rows this batch accepts and applies itself (<see cref="ApplyAccepted"/>).</summary>
    public List<TransactionRecord> AppliedWithAccept { get; } = [];

    public List<InflightActionEntry> ScheduledActions { get; } = [];
    public Dictionary<string, Balance> TouchedBalances { get; } = new(StringComparer.Ordinal);

    // Counted when a unit's entry is planned, so a unit refused later still uses room: the room is a soft bound.
    private int _handoffsPlanned;

    /// <summary>Lineage work for accepted rows on balances that track fund lineage (§7).</summary>
    public List<LineageWork> LineageWork { get; } = [];

    /// <summary>What accepted lineage units write besides their rows (mappings, fund allocations).</summary>
    public List<LineageSettlement> LineageSettlements { get; } = [];

    /// <summary>Monitors whose condition an accepted unit's change met (each time it did), in order.</summary>
    public List<BalanceMonitor> FiredMonitors { get; } = [];

    internal IReadOnlyDictionary<string, Balance> Balances => balances;
    internal IReadOnlyDictionary<string, Hold> Holds => holds;
    internal IReadOnlySet<string> UsedReferences => usedReferences;
    internal Func<string> NewActionId => newActionId;

    /// <summary>Whether a due entry that could have been handed off was left to a claim for want of room.</summary>
    public bool LeftToClaims { get; private set; }

    /// <summary>
    /// Whether this process may apply a queued row due at <paramref name="due"/> itself, with its accept or right
    /// after it: it is due now and outside an atomic group (whose legs a claim takes together).
    /// </summary>
    private bool AppliesHere(WriteUnit unit, DateTime due) =>
        handoff is not null && unit.QueueGroupId is null && due <= handoff.Now;

    /// <summary>Whether a queued row due at <paramref name="due"/> is applied in this batch, with no entry.</summary>
    internal bool AppliesWithAccept(WriteUnit unit, DateTime due) =>
        handoff is { ApplyWithAccept: true } && AppliesHere(unit, due);

    /// <summary>
    /// Applies the queued rows the batch accepted to apply itself, after every unit of the batch and in the order
    /// accepted, as their handed-off units would have been right after it. Each writes its <c>_q</c> child (or drops
    /// it, its reference taken) exactly as a unit settling an entry would, in the same database transaction as the
    /// row it applies.
    /// </summary>
    public void ApplyAccepted(Func<string> newTransactionId)
    {
        for (var i = 0; i < AppliedWithAccept.Count; i++)
        {
            Decide(QueuedTransactions.ApplyUnit(null, [AppliedWithAccept[i]], newTransactionId, handoff!.Now));
        }
    }

    /// <summary>
    /// Until when the entry of a queued row due at <paramref name="due"/> is leased to this process, if it is.
    /// </summary>
    internal DateTime? HandOff(WriteUnit unit, DateTime due)
    {
        if (!AppliesHere(unit, due))
        {
            return null;
        }
        if (_handoffsPlanned >= handoff!.Room)
        {
            LeftToClaims = true;
            return null;
        }
        _handoffsPlanned++;
        return handoff.LeaseUntil;
    }

    public UnitOutcome Decide(WriteUnit unit)
    {
        if ((unit.QueueEntryId is { } entry && !reads.TakenQueueEntries.Contains(entry))
            || (unit.InflightActionId is { } action && !reads.TakenInflightActions.Contains(action))
            || (unit.LineageWorkSeq is { } seq && !reads.TakenLineageWork.Contains(seq)))
        {
            return new UnitOutcome([], AlreadyProcessed: true);
        }
        var scratch = new UnitScratch(this, unit);
        var outcomes = new OperationOutcome[unit.Operations.Count];
        Array.Fill(outcomes, OperationOutcome.NotAttempted);
        for (var i = 0; i < outcomes.Length; i++)
        {
            outcomes[i] = scratch.Run(unit.Operations[i]);
            if (outcomes[i].Rejection is { } refusal)
            {
                if (unit.Policy != UnitPolicy.Atomic)
                {
                    return Finish(unit, scratch, outcomes);
                }
                return unit.DryRun
                    ? new UnitOutcome(RefusedOutcomes(unit, i, refusal), Changes: scratch.Involved(applied: false))
                    : RefuseAtomic(unit, i, refusal);
            }
        }
        return Finish(unit, scratch, outcomes);
    }

    private UnitOutcome Finish(WriteUnit unit, UnitScratch scratch, OperationOutcome[] outcomes)
    {
        if (unit.DryRun)
        {
            return new UnitOutcome(outcomes, Changes: scratch.Involved(applied: true));
        }
        CollectFiredMonitors(scratch);
        scratch.MergeInto(balances, holds, usedReferences, TouchedBalances);
        Rows.AddRange(scratch.Rows);
        LineageWork.AddRange(scratch.LineageWork);
        if (unit.LineageSettlement is { } settlement)
        {
            LineageSettlements.Add(settlement);
        }
        QueueEntries.AddRange(scratch.QueueEntries);
        HandedOff.AddRange(scratch.HandedOff);
        AppliedWithAccept.AddRange(scratch.AppliedWithAccept);
        ScheduledActions.AddRange(scratch.ScheduledActions);
        return new UnitOutcome(outcomes);
    }

    /// <summary>Compares each balance the unit changed, before (the batch's state) and after the unit.</summary>
    private void CollectFiredMonitors(UnitScratch scratch)
    {
        foreach (var after in scratch.ChangedBalances)
        {
            var monitors = monitorsOf(after.BalanceId);
            if (monitors.Count == 0)
            {
                continue;
            }
            var before = balances[after.BalanceId].Amounts;
            FiredMonitors.AddRange(monitors.Where(monitor => MonitorEvaluation.Fires(monitor, before, after.Amounts)));
        }
    }

    /// <summary>
    /// An atomic unit was refused: nothing of it applies. Queued transactions still get their outcome —
    /// a REJECTED child each (unless the child's reference is taken, which drops the entry as Blnk does).
    /// </summary>
    private UnitOutcome RefuseAtomic(WriteUnit unit, int refusedAt, Rejection refusal)
    {
        var outcomes = RefusedOutcomes(unit, refusedAt, refusal);
        for (var i = 0; i < outcomes.Length; i++)
        {
            if (unit.Operations[i] is PostTransaction { Mode: PostMode.ApplyQueued } queued
                && !usedReferences.Contains(queued.Row.Reference))
            {
                var rejected = Rejected(queued.Row, outcomes[i].Rejection!);
                usedReferences.Add(rejected.Reference);
                Rows.Add(rejected);
                outcomes[i] = outcomes[i] with { Row = rejected };
            }
        }
        return new UnitOutcome(outcomes);
    }

    private static OperationOutcome[] RefusedOutcomes(WriteUnit unit, int refusedAt, Rejection refusal) =>
        [.. unit.Operations.Select((_, i) =>
            new OperationOutcome(null, i == refusedAt ? refusal : Rejection.AtomicGroupRefused(refusal)))];

    private static TransactionRecord Rejected(TransactionRecord row, Rejection rejection)
    {
        var metaData = row.MetaDataJson is null ? [] : JsonNode.Parse(row.MetaDataJson)!.AsObject();
        metaData["blnk_rejection_reason"] = rejection.Message;
        return row with { Status = TransactionStatus.Rejected, MetaDataJson = metaData.ToJsonString() };
    }
}

/// <summary>
/// The copies one unit works on: balances and holds are cloned on first touch, rows and references are
/// collected, and everything joins the batch only through <see cref="MergeInto"/>.
/// </summary>
internal sealed class UnitScratch(BatchPlan plan, WriteUnit unit)
{
    private readonly Dictionary<string, Balance> _balances = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Hold> _holds = new(StringComparer.Ordinal);
    private readonly HashSet<string> _references = new(StringComparer.Ordinal);

    public List<TransactionRecord> Rows { get; } = [];
    public List<QueueEntry> QueueEntries { get; } = [];
    public List<TransactionRecord> HandedOff { get; } = [];
    public List<TransactionRecord> AppliedWithAccept { get; } = [];
    public List<InflightActionEntry> ScheduledActions { get; } = [];
    public List<LineageWork> LineageWork { get; } = [];

    public IEnumerable<Balance> ChangedBalances => _balances.Values;

    public OperationOutcome Run(LedgerOperation operation) => operation switch
    {
        PostTransaction post => Post(post),
        ResolveInflight resolve => Resolve(resolve),
        _ => throw new InvariantException($"unknown operation {operation.GetType().Name}"),
    };

    /// <summary>Every balance the unit's operations name, before and (when applied) after: a dry run's view.</summary>
    public IReadOnlyList<BalanceChange> Involved(bool applied)
    {
        var ids = unit.Operations.SelectMany(operation => operation switch
        {
            PostTransaction post => new[] { post.Row.Source, post.Row.Destination },
            ResolveInflight resolve when plan.Holds.TryGetValue(resolve.HoldId, out var hold) =>
                [hold.Row.Source, hold.Row.Destination],
            _ => [],
        }).Distinct(StringComparer.Ordinal);
        return [.. ids.Select(Original).OfType<Balance>().Select(before => new BalanceChange(before,
            applied && _balances.TryGetValue(before.BalanceId, out var after) ? after : before))];
    }

    public void MergeInto(Dictionary<string, Balance> balances, Dictionary<string, Hold> holds,
        HashSet<string> references, Dictionary<string, Balance> touched)
    {
        foreach (var (id, balance) in _balances)
        {
            balances[id] = balance;
            touched[id] = balance;
        }
        foreach (var (id, hold) in _holds)
        {
            holds[id] = hold;
        }
        references.UnionWith(_references);
    }

    private OperationOutcome Post(PostTransaction post)
    {
        var row = post.Row;
        var refusal = CheckRow(row);
        if (refusal is not null)
        {
            return new OperationOutcome(null, refusal);
        }
        if (post.Mode == PostMode.Enqueue)
        {
            Record(row);
            if (unit.QueueGroupId is null || QueueEntries.Count == 0)
            {
                var due = row.ScheduledFor is { } scheduled && scheduled > unit.AvailableAt ? scheduled : unit.AvailableAt;
                if (plan.AppliesWithAccept(unit, due))
                {
                    AppliedWithAccept.Add(row);
                    return new OperationOutcome(row, null);
                }
                var leasedUntil = plan.HandOff(unit, due);
                QueueEntries.Add(new QueueEntry(row.TransactionId, due, unit.QueueGroupId, leasedUntil));
                if (leasedUntil is not null)
                {
                    HandedOff.Add(row);
                }
            }
            return new OperationOutcome(row, null);
        }
        var source = Balance(row.Source);
        var destination = Balance(row.Destination);
        var overdraftLimit = row.OverdraftLimit > 0 ? Precision.ToPreciseAmount(row.OverdraftLimit, row.Precision) : 0;
        refusal = PostingEngine.Apply(source.Amounts, destination.Amounts,
            new Posting(row.PreciseAmount, row.Inflight, row.AllowOverdraft, overdraftLimit));
        if (refusal is not null)
        {
            return new OperationOutcome(null, refusal);
        }
        source.Version++;
        destination.Version++;
        var applied = row with { Status = row.Inflight ? TransactionStatus.Inflight : TransactionStatus.Applied };
        Record(applied);
        ScheduleHoldDeadlines(applied);
        CaptureLineage(applied, source, destination);
        return new OperationOutcome(applied, null);
    }

    private OperationOutcome Resolve(ResolveInflight resolve)
    {
        if (!plan.Holds.ContainsKey(resolve.HoldId) && !_holds.ContainsKey(resolve.HoldId))
        {
            return new OperationOutcome(null, Rejection.NotInflight());
        }
        var hold = Hold(resolve.HoldId);
        var row = hold.Row;
        if (_references.Contains(resolve.Reference) || plan.UsedReferences.Contains(resolve.Reference))
        {
            return new OperationOutcome(null, Rejection.DuplicateReference(resolve.Reference));
        }
        var source = Balance(row.Source);
        var destination = Balance(row.Destination);
        var refusal = resolve.Commit
            ? InflightEngine.Commit(hold, source.Amounts, destination.Amounts, resolve.Amount, out var amount)
            : InflightEngine.Void(hold, source.Amounts, destination.Amounts, out amount);
        if (refusal is not null)
        {
            return new OperationOutcome(null, refusal);
        }
        source.Version++;
        destination.Version++;
        var outcome = row with
        {
            TransactionId = resolve.TransactionId,
            ParentTransaction = row.TransactionId,
            Reference = resolve.Reference,
            Status = resolve.Commit ? TransactionStatus.Applied : TransactionStatus.Void,
            Hash = TransactionHash.Compute(Precision.FormatShortest(Precision.ToAmount(amount, row.Precision)),
                resolve.Reference, row.Currency, row.Source, row.Destination),
            PreciseAmount = amount,
            Inflight = false,
            CreatedAt = resolve.CreatedAt,
            EffectiveDate = resolve.CreatedAt,
            InflightExpiryDate = null,
            InflightCommitDate = null,
        };
        Record(outcome);
        if (source.TrackFundLineage || destination.TrackFundLineage)
        {
            LineageWork.Add(LineageWorkOf(outcome.TransactionId,
                resolve.Commit ? LineageType.ShadowCommit : LineageType.ShadowVoid, source, destination, null));
        }
        return new OperationOutcome(outcome, null);
    }

    /// <summary>
    /// §7 capture, recorded for the lineage processor in the same database transaction: a debit of a tracked
    /// balance (its allocation also reaches a tracked destination), or a credit of a tracked balance from an
    /// untracked one carrying a provider tag. Between two tracked balances the destination's lineage is the
    /// source's allocation; a tag there is not credited as well, which would count the same money twice
    /// (docs/lineage.md).
    /// </summary>
    private void CaptureLineage(TransactionRecord row, Balance source, Balance destination)
    {
        if (source.TrackFundLineage)
        {
            LineageWork.Add(LineageWorkOf(row.TransactionId, LineageType.Debit, source, destination, null));
        }
        else if (destination.TrackFundLineage && LineageProviderOf(row) is { } provider)
        {
            LineageWork.Add(LineageWorkOf(row.TransactionId, LineageType.Credit, source, destination, provider));
        }
    }

    private static LineageWork LineageWorkOf(string transactionId, string type, Balance source, Balance destination,
        string? provider) =>
        new(transactionId, type, source.TrackFundLineage ? source.BalanceId : null,
            source.TrackFundLineage ? source.IdentityId : null,
            destination.TrackFundLineage ? destination.BalanceId : null,
            destination.TrackFundLineage ? destination.IdentityId : null, provider);

    private static string? LineageProviderOf(TransactionRecord row) =>
        row.MetaDataJson is not null
        && JsonNode.Parse(row.MetaDataJson) is JsonObject metaData
        && metaData[LineageNames.ProviderKey] is JsonValue value
        && value.TryGetValue<string>(out var provider)
        && !string.IsNullOrWhiteSpace(provider)
        && provider.Length <= LineageNames.ProviderLengthMax
            ? provider
            : null;

    private Rejection? CheckRow(TransactionRecord row)
    {
        foreach (var balanceId in new[] { row.Source, row.Destination })
        {
            if (Original(balanceId) is not { } balance)
            {
                return Rejection.BalanceNotFound(balanceId);
            }
            if (!string.Equals(balance.Currency, row.Currency, StringComparison.Ordinal))
            {
                return Rejection.CurrencyMismatch(balanceId, balance.Currency, row.Currency);
            }
        }
        return _references.Contains(row.Reference) || plan.UsedReferences.Contains(row.Reference)
            ? Rejection.DuplicateReference(row.Reference)
            : null;
    }

    /// <summary>Expiry and scheduled commit are stored with the hold, in the same database transaction.</summary>
    private void ScheduleHoldDeadlines(TransactionRecord hold)
    {
        if (hold.Status != TransactionStatus.Inflight)
        {
            return;
        }
        if (hold.InflightExpiryDate is { } expiry)
        {
            ScheduledActions.Add(new InflightActionEntry(plan.NewActionId(), hold.TransactionId, Commit: false,
                null, InflightActionOrigin.Expiry, expiry));
        }
        if (hold.InflightCommitDate is { } commit)
        {
            ScheduledActions.Add(new InflightActionEntry(plan.NewActionId(), hold.TransactionId, Commit: true,
                null, InflightActionOrigin.ScheduledCommit, commit));
        }
    }

    private void Record(TransactionRecord row)
    {
        Invariant.Assert(!plan.UsedReferences.Contains(row.Reference));
        Invariant.Assert(_references.Add(row.Reference));
        Rows.Add(row);
    }

    private Balance Balance(string balanceId)
    {
        if (!_balances.TryGetValue(balanceId, out var copy))
        {
            var original = Original(balanceId)!;
            copy = new Balance
            {
                BalanceId = original.BalanceId, LedgerId = original.LedgerId, Currency = original.Currency,
                Indicator = original.Indicator, IdentityId = original.IdentityId, CreatedAt = original.CreatedAt,
                MetaDataJson = original.MetaDataJson, TrackFundLineage = original.TrackFundLineage,
                AllocationStrategy = original.AllocationStrategy, Version = original.Version,
                Amounts = original.Amounts.Copy(),
            };
            _balances[balanceId] = copy;
        }
        return copy;
    }

    private Balance? Original(string balanceId) =>
        plan.Balances.TryGetValue(balanceId, out var balance)
            ? balance
            : unit.VirtualBalances.FirstOrDefault(candidate => candidate.BalanceId == balanceId);

    private Hold Hold(string holdId)
    {
        if (!_holds.TryGetValue(holdId, out var copy))
        {
            copy = plan.Holds[holdId].Clone();
            _holds[holdId] = copy;
        }
        return copy;
    }
}
