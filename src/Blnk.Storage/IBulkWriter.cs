using System.Data.Common;
using Blnk.Core.Balances;
using Blnk.Core.Transactions;

namespace Blnk.Storage;

/// <summary>Set-based writes of a writer batch: one statement for all rows instead of one per row.</summary>
public interface IBulkWriter
{
    /// <remarks>Each method gets a fresh command already enlisted in the batch's database transaction.</remarks>
    Task InsertTransactionsAsync(DbCommand command, IReadOnlyList<TransactionRecord> rows,
        CancellationToken cancellationToken);

    Task EnqueueAsync(DbCommand command, IReadOnlyList<QueueEntry> entries, CancellationToken cancellationToken);

    /// <summary>Outbox rows in the given order (their sequence numbers keep it).</summary>
    Task InsertOutboxAsync(DbCommand command, IReadOnlyList<OutboxEvent> events, DateTime now,
        CancellationToken cancellationToken);

    Task UpdateBalancesAsync(DbCommand command, IReadOnlyCollection<Balance> balances,
        CancellationToken cancellationToken);
}
