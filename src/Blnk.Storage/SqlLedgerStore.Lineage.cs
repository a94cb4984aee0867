using System.Text.Json.Nodes;
using Blnk.Core.Lineage;
using Blnk.Core.Transactions;

namespace Blnk.Storage;

/// <summary>
/// A tracked balance's link to one provider (<c>lineage_mappings</c>): the shadow balance that counts what came
/// from the provider and what was spent of it, and the identity's aggregate balance on the other side.
/// </summary>
public sealed record LineageMapping(string BalanceId, string Provider, string ShadowBalanceId,
    string AggregateBalanceId, string IdentityId, DateTime CreatedAt);

/// <summary>
/// What settling a lineage work row writes besides its shadow transactions, in the same database transaction:
/// mappings to create (an existing mapping is kept, so its <c>created_at</c> still orders FIFO), and the
/// <c>BLNK_FUND_ALLOCATION</c> JSON array to merge into a debit's meta_data.
/// </summary>
public sealed record LineageSettlement(IReadOnlyList<LineageMapping> Mappings, string? AllocatedTransactionId = null,
    string? FundAllocationJson = null);

/// <summary>An unprocessed lineage work row as the processor leases it.</summary>
public sealed record PendingLineageWork(long Seq, string TransactionId, string Type, string? SourceBalanceId,
    string? DestinationBalanceId, string? Provider, int Attempts);

public partial interface ILedgerStore
{
    /// <summary>
    /// Leases up to <paramref name="max"/> due lineage work rows in seq order, skipping any row when an earlier
    /// unprocessed row names one of its identities: at most one row per identity is ever in progress, across
    /// processes, and an identity's rows are processed in the order their transfers were written.
    /// </summary>
    Task<IReadOnlyList<PendingLineageWork>> ClaimLineageWorkAsync(int max, DateTime now, DateTime leaseUntil,
        CancellationToken cancellationToken);

    /// <summary>
    /// Counts a failed attempt and keeps its error. With <paramref name="retryAt"/> the row is due again then;
    /// without, the row stays as it is (a refused row is already processed and only keeps the note).
    /// </summary>
    Task RecordLineageAttemptAsync(long seq, string error, DateTime? retryAt, CancellationToken cancellationToken);

    /// <summary>A balance's mappings, oldest first (<c>created_at</c>, then creation order).</summary>
    Task<IReadOnlyList<LineageMapping>> GetLineageMappingsAsync(string balanceId, CancellationToken cancellationToken);

    /// <summary>
    /// The shadow transactions of a transaction, in log order: the rows with one of <paramref name="references"/>
    /// (the shadow, release and receive references of its providers) and their commit/void children, as far as
    /// their meta_data <c>_shadow_for</c> names <paramref name="transactionId"/>.
    /// </summary>
    Task<IReadOnlyList<TransactionRecord>> FindShadowTransactionsAsync(string transactionId,
        IReadOnlyCollection<string> references, CancellationToken cancellationToken);
}

public partial class SqlLedgerStore
{
    private const string LineageWorkColumns = "seq, transaction_id, lineage_type, source_balance_id, " +
        "destination_balance_id, provider, attempts";

    private static readonly string[] LineageIdentityColumns = ["source_identity_id", "destination_identity_id"];

    /// <summary>
    /// An identity's rows are done in order: a row waits for every earlier unprocessed row that names one of its
    /// identities, on either side (four equalities, which the partial indexes on the identity columns answer).
    /// </summary>
    private static readonly EntityOrder IdentityOrder = new("processed_at IS NULL", "p.processed_at IS NULL",
    [
        .. from earlier in LineageIdentityColumns
        from candidate in LineageIdentityColumns
        select $"p.{earlier} = o.{candidate}",
    ]);

    /// <summary>Whether lineage work is due (<see cref="AnyDueAsync"/>).</summary>
    internal string DueLineageWorkSql => DueInOrderSql("lineage_outbox", IdentityOrder);

    /// <summary>Leases due lineage work, in order per identity.</summary>
    internal string ClaimLineageWorkSql =>
        dialect.ClaimOrderedSql("lineage_outbox", "seq", IdentityOrder, LineageWorkColumns);

    public async Task<IReadOnlyList<PendingLineageWork>> ClaimLineageWorkAsync(int max, DateTime now,
        DateTime leaseUntil, CancellationToken cancellationToken)
    {
        if (!await AnyDueAsync(DueLineageWorkSql, now, cancellationToken))
        {
            return [];
        }
        var work = await ClaimRowsAsync(ClaimLineageWorkSql, max, now, leaseUntil,
            reader => new PendingLineageWork(reader.GetInt64(0), reader.GetString(1), reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetInt32(6)),
            cancellationToken);
        return [.. work.OrderBy(item => item.Seq)];
    }

    public async Task RecordLineageAttemptAsync(long seq, string error, DateTime? retryAt,
        CancellationToken cancellationToken) =>
        await ExecuteAsync("UPDATE lineage_outbox SET attempts = attempts + 1, last_error = @error, " +
            "available_at = COALESCE(@retry, available_at), lease_until = COALESCE(@retry, lease_until) " +
            "WHERE seq = @seq", command =>
            {
                SqlDialect.Add(command, "seq", seq);
                SqlDialect.Add(command, "error", error);
                dialect.AddTime(command, "retry", retryAt);
            }, cancellationToken);

    public Task<IReadOnlyList<LineageMapping>> GetLineageMappingsAsync(string balanceId,
        CancellationToken cancellationToken) =>
        QueryAsync("SELECT balance_id, provider, shadow_balance_id, aggregate_balance_id, identity_id, created_at " +
            "FROM lineage_mappings WHERE balance_id = @id ORDER BY created_at, seq",
            command => SqlDialect.Add(command, "id", balanceId),
            reader => new LineageMapping(reader.GetString(0), reader.GetString(1), reader.GetString(2),
                reader.GetString(3), reader.GetString(4), dialect.ReadTime(reader, 5)!.Value), cancellationToken);

    public async Task<IReadOnlyList<TransactionRecord>> FindShadowTransactionsAsync(string transactionId,
        IReadOnlyCollection<string> references, CancellationToken cancellationToken)
    {
        if (references.Count == 0)
        {
            return [];
        }
        await using var connection = await dialect.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        var membership = dialect.AddInList(command, "refs", references);
        // Index lookups by reference and by parent, as FindFamilyAsync does: no scan of the log.
        command.CommandText = $"SELECT {TransactionColumns}, seq FROM transactions WHERE reference {membership} " +
            $"UNION ALL SELECT {TransactionColumns}, seq FROM transactions WHERE parent_transaction IN " +
            $"(SELECT transaction_id FROM transactions WHERE reference {membership}) ORDER BY seq";
        var rows = await ReadAllAsync(command, ReadTransaction, cancellationToken);
        return [.. rows.Where(row => ShadowFor(row.MetaDataJson) == transactionId)];
    }

    private static string? ShadowFor(string? metaDataJson) =>
        metaDataJson is not null
        && JsonNode.Parse(metaDataJson) is JsonObject metaData
        && metaData[LineageNames.ShadowForKey] is JsonValue value
        && value.TryGetValue<string>(out var shadowFor)
            ? shadowFor
            : null;
}
