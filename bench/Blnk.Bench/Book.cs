using System.Collections.Concurrent;
using System.Globalization;
using System.Numerics;

namespace Blnk.Bench;

/// <summary>
/// One workload's balances: a fresh currency so runs never mix, <c>n</c> balances funded from <c>@World</c>, and
/// every transfer the server acknowledged (or left unanswered) while the workload ran.
/// </summary>
internal sealed class Book
{
    private readonly ConcurrentQueue<Ack> _acks = new();
    private long _sequence;
    private long _ackedCents;
    private long _unansweredCents;

    public required string Currency { get; init; }
    public required string[] Ids { get; init; }
    public required string WorldId { get; init; }
    public required BigInteger Funding { get; init; }
    public required string ReferencePrefix { get; init; }

    /// <summary>
    /// How references are made: the prefix and the sequence number, or a UUID alone, as many clients send. A UUID
    /// has no run-specific prefix, so random ones (v4) spread over the whole key space of the ones stored before,
    /// and time-ordered ones (v7) follow them.
    /// </summary>
    public ReferenceKind References { get; init; }

    public long AckedCents => Interlocked.Read(ref _ackedCents);

    /// <summary>Amounts of transfers that got no answer at all: they may or may not have been applied.</summary>
    public long UnansweredCents => Interlocked.Read(ref _unansweredCents);

    public (long Sequence, string Reference) NextReference()
    {
        var sequence = Interlocked.Increment(ref _sequence);
        return (sequence, References switch
        {
            ReferenceKind.Uuid => "ref_" + Guid.NewGuid().ToString(),
            ReferenceKind.Uuid7 => "ref_" + Guid.CreateVersion7().ToString(),
            _ => ReferencePrefix + sequence.ToString(CultureInfo.InvariantCulture),
        });
    }

    public void Acknowledged(Ack ack)
    {
        _acks.Enqueue(ack);
        Interlocked.Add(ref _ackedCents, ack.Cents);
    }

    public void Unanswered(long cents) => Interlocked.Add(ref _unansweredCents, cents);

    /// <summary>Acknowledged transfers in the order they were sent.</summary>
    public List<Ack> Acks() => [.. _acks.OrderBy(ack => ack.Sequence)];

    public static async Task<Book> CreateAsync(Ledger api, string currency, string referencePrefix, int count,
        Func<int, long> fundingCents, ReferenceKind references = ReferenceKind.Sequential)
    {
        var ids = new string[count];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = 32 };
        await Parallel.ForEachAsync(Enumerable.Range(0, count), parallel, async (i, _) =>
            ids[i] = await api.CreateBalanceAsync(currency));
        await Parallel.ForEachAsync(Enumerable.Range(0, count), parallel, async (i, _) =>
        {
            var body = Ledger.TransferBody(fundingCents(i), currency, referencePrefix + "fund-" +
                i.ToString(CultureInfo.InvariantCulture), "@World", ids[i], allowOverdraft: true, skipQueue: true);
            var reply = await api.PostTransferAsync(body);
            if (reply.Status != 201)
            {
                throw new BenchException($"funding transfer to {ids[i]} answered {reply.Status}: {reply.Text}");
            }
        });
        var world = await api.GetBalanceAsync($"/balances/indicator/@World/currency/{currency}");
        return new Book
        {
            Currency = currency,
            Ids = ids,
            WorldId = world.Id,
            Funding = Enumerable.Range(0, count).Aggregate(BigInteger.Zero, (sum, i) => sum + fundingCents(i)),
            ReferencePrefix = referencePrefix,
            References = references,
        };
    }
}

internal enum ReferenceKind
{
    Sequential,
    Uuid,
    Uuid7,
}
