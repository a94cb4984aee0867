using System.Diagnostics;
using Blnk.Core.Balances;

namespace Blnk.Server.Writer;

/// <summary>
/// The balances as this process's writer last committed them, so that a batch of plain transfers can decide
/// without first reading and locking its balances (a round trip, about a quarter of a batch's time on
/// PostgreSQL).
/// </summary>
/// <remarks>
/// A remembered balance is only ever a guess: the batch's balance update applies only where the stored row still
/// has the version and identity the batch decided from, and otherwise fails the whole batch
/// (<see cref="Storage.StaleBalanceException"/>), which then runs again from locked reads. So another process, an
/// identity change or a lost commit can cost a retry but never a wrong decision. After a failure nothing is
/// remembered for <see cref="PauseAfterFailure"/>, so balances that several processes share cost at most one
/// wasted batch per pause. At most <c>capacity</c> balances are held (all are dropped when that is reached; the
/// busy ones come back with the next batches), so memory stays bounded however many balances exist.
/// Balances handed out are never changed in place: the batch plan works on copies.
/// </remarks>
public sealed class RememberedBalances(int capacity)
{
    public static readonly TimeSpan PauseAfterFailure = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Balance> _balances = new(StringComparer.Ordinal);
    private long _pausedUntil;

    /// <summary>Every one of <paramref name="balanceIds"/> as last committed, or null when any is not known.</summary>
    public Dictionary<string, Balance>? TryRecall(IReadOnlyCollection<string> balanceIds)
    {
        lock (_lock)
        {
            if (Paused || balanceIds.Count == 0)
            {
                return null;
            }
            var recalled = new Dictionary<string, Balance>(balanceIds.Count, StringComparer.Ordinal);
            foreach (var balanceId in balanceIds)
            {
                if (!_balances.TryGetValue(balanceId, out var balance))
                {
                    return null;
                }
                recalled[balanceId] = balance;
            }
            return recalled;
        }
    }

    /// <summary>Balances a batch has just committed (their state after it).</summary>
    public void Remember(IEnumerable<Balance> committed)
    {
        lock (_lock)
        {
            if (Paused)
            {
                return;
            }
            foreach (var balance in committed)
            {
                if (_balances.Count >= capacity && !_balances.ContainsKey(balance.BalanceId))
                {
                    _balances.Clear();
                }
                if (capacity > 0)
                {
                    _balances[balance.BalanceId] = WithoutMetaData(balance);
                }
            }
        }
    }

    /// <summary>A batch failed: what is remembered may be stale, so forget it and pause.</summary>
    public void ForgetAll()
    {
        lock (_lock)
        {
            _balances.Clear();
            _pausedUntil = Stopwatch.GetTimestamp() + (long)(PauseAfterFailure.TotalSeconds * Stopwatch.Frequency);
        }
    }

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
}
