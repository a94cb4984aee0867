using System.Text.Json.Nodes;
using Blnk.Core;
using Blnk.Core.Balances;
using Blnk.Core.Money;
using Blnk.Core.Transactions;
using Blnk.Storage;

namespace Blnk.Server.Writer;

/// <summary>
/// Decides every item of one batch, in arrival order, against balances loaded and locked for the
/// batch. Pure apart from the in-memory balances it mutates; the writer persists what it collects.
/// </summary>
public sealed class BatchPlan(
    IReadOnlyDictionary<string, Balance> balances,
    HashSet<string> usedReferences,
    IReadOnlySet<string> takenQueueEntries)
{
    public List<TransactionRecord> Rows { get; } = [];
    public List<QueueEntry> QueueEntries { get; } = [];
    public Dictionary<string, Balance> TouchedBalances { get; } = new(StringComparer.Ordinal);

    public WriteOutcome Decide(TransactionWrite write)
    {
        var row = write.Row;
        if (write.Mode == WriteMode.ApplyQueued && !takenQueueEntries.Contains(row.ParentTransaction))
        {
            return WriteOutcome.AlreadyProcessed;
        }
        var refusal = CheckRow(row);
        if (refusal is { Code: RejectionCode.DuplicateReference } && write.Mode == WriteMode.ApplyQueued)
        {
            // The child's reference is taken (a caller used "<ref>_q" themselves): the entry is dropped, as Blnk does.
            return WriteOutcome.AlreadyProcessed;
        }
        if (refusal is null && write.Mode == WriteMode.Enqueue)
        {
            Record(row);
            QueueEntries.Add(new QueueEntry(row.TransactionId, write.AvailableAt));
            return new WriteOutcome(row, null);
        }
        refusal ??= Apply(row);
        if (refusal is null)
        {
            var applied = row with { Status = row.Inflight ? TransactionStatus.Inflight : TransactionStatus.Applied };
            Record(applied);
            return new WriteOutcome(applied, null);
        }
        if (write.Mode != WriteMode.ApplyQueued)
        {
            return new WriteOutcome(null, refusal);
        }
        var rejected = Rejected(row, refusal);
        Record(rejected);
        return new WriteOutcome(rejected, refusal);
    }

    private Rejection? CheckRow(TransactionRecord row)
    {
        foreach (var balanceId in new[] { row.Source, row.Destination })
        {
            if (!balances.TryGetValue(balanceId, out var balance))
            {
                return Rejection.BalanceNotFound(balanceId);
            }
            if (!string.Equals(balance.Currency, row.Currency, StringComparison.Ordinal))
            {
                return Rejection.CurrencyMismatch(balanceId, balance.Currency, row.Currency);
            }
        }
        return usedReferences.Contains(row.Reference) ? Rejection.DuplicateReference(row.Reference) : null;
    }

    private Rejection? Apply(TransactionRecord row)
    {
        var source = balances[row.Source];
        var destination = balances[row.Destination];
        var overdraftLimit = row.OverdraftLimit > 0
            ? Precision.ToPreciseAmount(row.OverdraftLimit, row.Precision)
            : 0;
        var refusal = PostingEngine.Apply(source.Amounts, destination.Amounts,
            new Posting(row.PreciseAmount, row.Inflight, row.AllowOverdraft, overdraftLimit));
        if (refusal is not null)
        {
            return refusal;
        }
        source.Version++;
        destination.Version++;
        TouchedBalances[source.BalanceId] = source;
        TouchedBalances[destination.BalanceId] = destination;
        return null;
    }

    private void Record(TransactionRecord row)
    {
        Invariant.Assert(!usedReferences.Contains(row.Reference));
        usedReferences.Add(row.Reference);
        Rows.Add(row);
    }

    private static TransactionRecord Rejected(TransactionRecord row, Rejection rejection)
    {
        var metaData = row.MetaDataJson is null ? [] : JsonNode.Parse(row.MetaDataJson)!.AsObject();
        metaData["blnk_rejection_reason"] = rejection.Message;
        return row with { Status = TransactionStatus.Rejected, MetaDataJson = metaData.ToJsonString() };
    }
}
