using System.Data.Common;
using Blnk.Core.Transactions;

namespace Blnk.Storage;

/// <summary>Set-based writes of a writer batch: one statement for all rows instead of one per row.</summary>
/// <remarks>Each method sets the text and parameters of a fresh command of the batch; the batch sends it.</remarks>
public interface IBulkWriter
{
    /// <summary>
    /// A statement that inserts the rows and returns how many, or fails unless every balance they name exists.
    /// </summary>
    void InsertTransactions(DbCommand command, IReadOnlyList<TransactionRecord> rows);

    /// <summary>
    /// Queue entries; a leased one is leased to <paramref name="leaseOwner"/>. Returns one row: the count of entries,
    /// failing the statement (and so the transaction) when an entry names a transaction that is not stored.
    /// </summary>
    void Enqueue(DbCommand command, IReadOnlyList<QueueEntry> entries, long leaseOwner);

    /// <summary>Outbox rows in the given order (their sequence numbers keep it).</summary>
    void InsertOutbox(DbCommand command, IReadOnlyList<OutboxEvent> events, DateTime now);

    /// <summary>
    /// A statement that updates the balances whose rows are still as read and fails (see
    /// <see cref="StatementPipeline.BalanceChanged"/>) unless that is every one of them.
    /// </summary>
    void UpdateBalances(DbCommand command, IReadOnlyCollection<BalanceWrite> writes);
}
