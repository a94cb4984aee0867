using System.Diagnostics;
using Blnk.Core.Balances;
using Blnk.Core.Transactions;
using Blnk.Storage;

namespace Blnk.Server.Writer;

/// <summary>
/// The balances as this process's writer last committed them, and the holds on them with their progress, so that a
/// batch of plain transfers, commits and voids can decide without first reading and locking (a round trip, about a
/// quarter of a batch's time on PostgreSQL).
/// </summary>
/// <remarks>
/// <para>
/// A remembered balance is only ever a guess: the batch's balance update applies only where the stored row still
/// has the version and identity the batch decided from, and otherwise fails the whole batch
/// (<see cref="StaleBalanceException"/>), which then runs again from locked reads. So another process, an
/// identity change or a lost commit can cost a retry but never a wrong decision. After a failure nothing is
/// remembered for <see cref="PauseAfterFailure"/>, so balances that several processes share cost at most one
/// wasted batch per pause. At most <c>capacity</c> balances and as many holds are held (all are dropped when that
/// is reached; the busy ones come back with the next batches), so memory stays bounded however many exist.
/// Balances handed out are never changed in place: the batch plan works on copies.
/// </para>
/// <para>
/// A hold's progress (how much is committed, whether it is voided) is true of its balances at particular versions:
/// every commit or void, by any process, changes both of the hold's balances. So a progress is remembered together
/// with the <em>lineage</em> of each of its balances: a number that stays the same while every change to the
/// remembered balance is one this writer made and knows the effect of (its batch read the version remembered) and
/// is renewed whenever the balance is learnt afresh. A progress is recalled only while both lineages are unchanged;
/// the batch's update then proves that the stored balances, and with them the hold, are still as remembered.
/// </para>
/// </remarks>
public sealed class RememberedBalances(int capacity)
{
    public static readonly TimeSpan PauseAfterFailure = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, RememberedBalance> _balances = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RememberedHold> _holds = new(StringComparer.Ordinal);
    private long _lastLineage;
    private long _pausedUntil;

    /// <summary>
    /// Reads made of what is remembered: every balance in <paramref name="balanceIds"/>, every hold in
    /// <paramref name="holdIds"/> with its progress and its balances; null when any of them is not known.
    /// </summary>
    public BatchReads? TryRecall(IReadOnlyCollection<string> balanceIds, IReadOnlyCollection<string> holdIds)
    {
        lock (_lock)
        {
            if (Paused || balanceIds.Count + holdIds.Count == 0)
            {
                return null;
            }
            var recalled = BatchReads.Recalled();
            foreach (var holdId in holdIds)
            {
                if (!TryRecallHold(holdId, recalled))
                {
                    return null;
                }
            }
            foreach (var balanceId in balanceIds)
            {
                if (!_balances.TryGetValue(balanceId, out var remembered))
                {
                    return null;
                }
                recalled.Balances[balanceId] = remembered.Balance;
            }
            return recalled;
        }
    }

    /// <summary>
    /// The row of a remembered hold that is not voided: all an inflight action on its id acts on, without looking
    /// it up (null when not known so). The rows under a hold are its commits and voids and the refunds of those;
    /// only the refund of a void is a hold again, and a voided hold refuses any action before its other legs count.
    /// Remembered by a process that did not see the void (another process's), the action is still refused as
    /// voided, by the writer, which decides from the stored progress.
    /// </summary>
    public TransactionRecord? RecallLoneHold(string holdId)
    {
        lock (_lock)
        {
            return _holds.TryGetValue(holdId, out var hold) && !hold.Progress.Voided ? hold.Row : null;
        }
    }

    /// <summary>
    /// What a batch has just committed: its balances after it (<paramref name="readVersions"/> are the versions it
    /// decided from), and its holds with their progress after it, new ones included.
    /// </summary>
    public void Remember(IEnumerable<Balance> committed, IReadOnlyDictionary<string, long> readVersions,
        IEnumerable<(TransactionRecord Row, HoldProgress Progress)> holds)
    {
        lock (_lock)
        {
            if (Paused || capacity == 0)
            {
                return;
            }
            foreach (var balance in committed)
            {
                RememberBalance(balance, readVersions[balance.BalanceId]);
            }
            foreach (var (row, progress) in holds)
            {
                RememberHold(row, progress);
            }
        }
    }

    /// <summary>A batch failed: what is remembered may be stale, so forget it and pause.</summary>
    public void ForgetAll()
    {
        lock (_lock)
        {
            _balances.Clear();
            _holds.Clear();
            _pausedUntil = Stopwatch.GetTimestamp() + (long)(PauseAfterFailure.TotalSeconds * Stopwatch.Frequency);
        }
    }

    private bool TryRecallHold(string holdId, BatchReads recalled)
    {
        if (!_holds.TryGetValue(holdId, out var hold)
            || !_balances.TryGetValue(hold.Row.Source, out var source) || source.Lineage != hold.SourceLineage
            || !_balances.TryGetValue(hold.Row.Destination, out var destination)
            || destination.Lineage != hold.DestinationLineage)
        {
            return false;
        }
        recalled.Holds[holdId] = hold.Row;
        recalled.HoldProgress[holdId] = hold.Progress;
        recalled.Balances[source.Balance.BalanceId] = source.Balance;
        recalled.Balances[destination.Balance.BalanceId] = destination.Balance;
        return true;
    }

    private void RememberBalance(Balance balance, long readVersion)
    {
        var known = _balances.TryGetValue(balance.BalanceId, out var before);
        if (!known && _balances.Count >= capacity)
        {
            _balances.Clear();
        }
        // The batch changed the balance from the version remembered: every change since is known. Otherwise the
        // balance was read afresh (or remembered out of order by another writer loop), so what is known of its
        // holds' progress no longer follows from it.
        var lineage = known && before!.Balance.Version == readVersion ? before.Lineage : ++_lastLineage;
        _balances[balance.BalanceId] = new RememberedBalance(WithoutMetaData(balance), lineage);
    }

    private void RememberHold(TransactionRecord row, HoldProgress progress)
    {
        if (!ReadsBackAsItIs(row) || !_balances.TryGetValue(row.Source, out var source)
            || !_balances.TryGetValue(row.Destination, out var destination))
        {
            _holds.Remove(row.TransactionId);
            return;
        }
        if (_holds.Count >= capacity && !_holds.ContainsKey(row.TransactionId))
        {
            _holds.Clear();
        }
        _holds[row.TransactionId] = new RememberedHold(row, progress, source.Lineage, destination.Lineage);
    }

    /// <summary>
    /// A commit or void copies much of its hold's row, so a remembered row must be what a read would return.
    /// PostgreSQL normalises <c>meta_data</c> (jsonb), and a <c>scheduled_for</c> is stored to the microsecond: a hold
    /// carrying either is read from the database instead (large <c>meta_data</c> has no place in memory anyway).
    /// </summary>
    private static bool ReadsBackAsItIs(TransactionRecord row) =>
        row.MetaDataJson is null && row.ScheduledFor is null;

    /// <summary>
    /// A balance's <c>meta_data</c> takes no part in a batch's decisions and may be large: it is not kept, so a
    /// remembered balance costs well under 1 KB.
    /// </summary>
    private static Balance WithoutMetaData(Balance balance) => balance.MetaDataJson is null ? balance : new Balance
    {
        BalanceId = balance.BalanceId, LedgerId = balance.LedgerId, Currency = balance.Currency,
        Indicator = balance.Indicator, IdentityId = balance.IdentityId, CreatedAt = balance.CreatedAt,
        TrackFundLineage = balance.TrackFundLineage, AllocationStrategy = balance.AllocationStrategy,
        Version = balance.Version, Amounts = balance.Amounts.Copy(),
    };

    private bool Paused => Stopwatch.GetTimestamp() < _pausedUntil;

    private sealed record RememberedBalance(Balance Balance, long Lineage);

    private sealed record RememberedHold(TransactionRecord Row, HoldProgress Progress, long SourceLineage,
        long DestinationLineage);
}
