using System.Data.Common;
using System.Globalization;

namespace Blnk.Storage;

/// <summary>
/// The outcome of one delivery attempt, as the dispatcher records it. <c>NextAttemptAt</c> is when to try
/// again; null when the delivery succeeded or is given up.
/// </summary>
public sealed record DeliveryAttempt(long Seq, int Attempt, DateTime AttemptedAt, int? StatusCode, string? Error,
    int DurationMs, bool Delivered, bool GiveUp, DateTime? NextAttemptAt);

/// <summary>A recorded attempt, read back (tests, operators).</summary>
public sealed record DeliveryAttemptRecord(long Seq, string Event, string Target, int Attempt, DateTime AttemptedAt,
    int? StatusCode, string? Error);

public partial interface ILedgerStore
{
    /// <summary>Records events for delivery in their own database transaction (work that has no other write).</summary>
    Task AppendOutboxAsync(IReadOnlyList<OutboxEvent> events, DateTime now, CancellationToken cancellationToken);

    /// <summary>
    /// Leases up to <paramref name="max"/> due deliveries, oldest first, skipping any whose target and entity
    /// have an earlier delivery still pending (so one entity's events arrive in order).
    /// </summary>
    Task<IReadOnlyList<OutboxDelivery>> ClaimDeliveriesAsync(int max, DateTime now, DateTime leaseUntil,
        CancellationToken cancellationToken);

    /// <summary>Stores attempts and moves each delivery on: delivered, scheduled again, or given up.</summary>
    Task RecordDeliveryAttemptsAsync(IReadOnlyList<DeliveryAttempt> attempts, CancellationToken cancellationToken);

    /// <summary>
    /// Removes up to <paramref name="max"/> deliveries finished (delivered or given up) before
    /// <paramref name="before"/>, with their attempts; returns how many were removed.
    /// </summary>
    Task<int> PruneDeliveriesAsync(DateTime before, int max, CancellationToken cancellationToken);

    /// <summary>Every recorded attempt, oldest first (at most <paramref name="limit"/>).</summary>
    Task<IReadOnlyList<DeliveryAttemptRecord>> ListDeliveryAttemptsAsync(int limit, CancellationToken cancellationToken);
}

public partial class SqlLedgerStore
{
    internal const string InsertOutboxSql = "INSERT INTO webhook_outbox (event, payload, created_at, target, url, " +
        "hook_id, entity_key, available_at, lease_until) VALUES (@event, @payload, @now, @target, @url, @hook, @key, " +
        "@now, @now)";

    private const string OutboxPending = "delivered_at IS NULL AND dead_at IS NULL";

    /// <summary>Deliveries go out in order per target and entity.</summary>
    private static readonly EntityOrder DeliveryOrder = new(OutboxPending,
        "p.delivered_at IS NULL AND p.dead_at IS NULL", ["p.target = o.target AND p.entity_key = o.entity_key"]);

    private const string OutboxColumns = "seq, event, payload, target, url, hook_id, attempts, created_at";

    /// <summary>Whether a webhook delivery is due (<see cref="AnyDueAsync"/>).</summary>
    internal string DueDeliveriesSql => DueInOrderSql("webhook_outbox", DeliveryOrder);

    /// <summary>Leases due webhook deliveries, in order per target and entity.</summary>
    internal string ClaimDeliveriesSql =>
        dialect.ClaimOrderedSql("webhook_outbox", "seq", DeliveryOrder, OutboxColumns);

    public async Task AppendOutboxAsync(IReadOnlyList<OutboxEvent> events, DateTime now,
        CancellationToken cancellationToken)
    {
        if (events.Count == 0)
        {
            return;
        }
        await using var connection = await dialect.OpenAsync(cancellationToken);
        await using var dbTransaction = await dialect.BeginWriteAsync(connection, cancellationToken);
        await WriteOutboxAsync(connection, dbTransaction, events, now, cancellationToken);
        await dbTransaction.CommitAsync(cancellationToken);
    }

    internal Task WriteOutboxAsync(DbConnection connection, DbTransaction dbTransaction,
        IReadOnlyList<OutboxEvent> events, DateTime now, CancellationToken cancellationToken) =>
        SqlDialect.ExecuteManyAsync(connection, dbTransaction, InsertOutboxSql, events,
            (command, outboxEvent) => BindOutboxEvent(command, outboxEvent, now), cancellationToken);

    internal void BindOutboxEvent(DbCommand command, OutboxEvent outboxEvent, DateTime now)
    {
        SqlDialect.Add(command, "event", outboxEvent.Event);
        SqlDialect.Add(command, "payload", outboxEvent.PayloadJson);
        dialect.AddTime(command, "now", now);
        SqlDialect.Add(command, "target", outboxEvent.Target);
        SqlDialect.Add(command, "url", outboxEvent.Url);
        SqlDialect.Add(command, "hook", outboxEvent.HookId);
        SqlDialect.Add(command, "key", outboxEvent.EntityKey);
    }

    public async Task<IReadOnlyList<OutboxDelivery>> ClaimDeliveriesAsync(int max, DateTime now, DateTime leaseUntil,
        CancellationToken cancellationToken)
    {
        if (!await AnyDueAsync(DueDeliveriesSql, now, cancellationToken))
        {
            return [];
        }
        var deliveries = await ClaimRowsAsync(ClaimDeliveriesSql, max, now, leaseUntil,
            reader => new OutboxDelivery(reader.GetInt64(0), reader.GetString(1), reader.GetString(2),
                reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetInt32(6), dialect.ReadTime(reader, 7)!.Value),
            cancellationToken);
        return [.. deliveries.OrderBy(delivery => delivery.Seq)];
    }

    /// <summary>
    /// Runs a claim statement (<see cref="SqlDialect.ClaimDueSql(string, string, string, string)"/> or
    /// <see cref="SqlDialect.ClaimOrderedSql"/>) in its own write transaction and reads the leased rows.
    /// </summary>
    internal async Task<List<T>> ClaimRowsAsync<T>(string claimSql, int max, DateTime now, DateTime leaseUntil,
        Func<DbDataReader, T> read, CancellationToken cancellationToken)
    {
        await using var connection = await dialect.OpenAsync(cancellationToken);
        await using var dbTransaction = await dialect.BeginClaimAsync(connection, cancellationToken);
        var rows = new List<T>();
        await using (var claim = connection.CreateCommand())
        {
            claim.Transaction = dbTransaction;
            claim.CommandText = claimSql;
            await AddClaimParametersAsync(claim, max, now, leaseUntil, cancellationToken);
            await using var reader = await claim.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add(read(reader));
            }
        }
        await dbTransaction.CommitAsync(cancellationToken);
        return rows;
    }

    /// <summary>
    /// The parameters of a claim statement: how many, now, the lease's end and its owners, once this process is seen
    /// to hold its leases (<see cref="SqlDialect.HoldLeasesAsync"/>).
    /// </summary>
    internal async Task AddClaimParametersAsync(DbCommand claim, int max, DateTime now, DateTime leaseUntil,
        CancellationToken cancellationToken)
    {
        await dialect.HoldLeasesAsync(cancellationToken);
        dialect.AddTime(claim, "now", now);
        dialect.AddTime(claim, "lease", leaseUntil);
        SqlDialect.Add(claim, "max", max);
        await dialect.AddLeaseOwnersAsync(claim, cancellationToken);
    }

    /// <summary>
    /// Whether <paramref name="dueSql"/> (<see cref="DueSql"/>, <see cref="DueInOrderSql"/>) finds a row due now:
    /// a plain read, so an idle poller never takes SQLite's write lock (which the writer needs) nor starts a
    /// writing transaction on PostgreSQL.
    /// </summary>
    internal async Task<bool> AnyDueAsync(string dueSql, DateTime now, CancellationToken cancellationToken)
    {
        await using var connection = await dialect.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = dueSql;
        AddDueParameters(command, now);
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    /// <summary>
    /// The statement that finds a row of a work table due now (<paramref name="pending"/> unqualified), looking at
    /// rows in <paramref name="orderBy"/> when given.
    /// </summary>
    internal string DueSql(string table, string pending, string? orderBy = null) =>
        $"SELECT 1 FROM {table} o WHERE {pending} AND o.available_at <= @now AND {dialect.LeaseFreeToRead("o")}" +
        (orderBy is null ? "" : $" ORDER BY {orderBy}") + " LIMIT 1";

    /// <summary>
    /// The statement that finds a row due now of a table claimed in order per entity
    /// (<see cref="SqlDialect.ClaimOrderedSql"/>): a row behind an earlier pending row of its entity is not due.
    /// </summary>
    /// <remarks>
    /// It looks at rows in the order of the pending index, as the claim does: without an order, PostgreSQL scanned
    /// the table from its start, through the processed history, to the backlog after it.
    /// </remarks>
    internal string DueInOrderSql(string table, EntityOrder order) =>
        DueSql(table, SqlDialect.NextInOrder(table, "seq", order), SqlDialect.PendingIndexOrder("seq"));

    /// <summary>The parameters of a <see cref="DueSql"/> or <see cref="DueInOrderSql"/> statement.</summary>
    internal void AddDueParameters(DbCommand command, DateTime now)
    {
        dialect.AddTime(command, "now", now);
        dialect.AddLeaseOwner(command);
    }

    public async Task RecordDeliveryAttemptsAsync(IReadOnlyList<DeliveryAttempt> attempts,
        CancellationToken cancellationToken)
    {
        if (attempts.Count == 0)
        {
            return;
        }
        await using var connection = await dialect.OpenAsync(cancellationToken);
        await using var dbTransaction = await dialect.BeginWriteAsync(connection, cancellationToken);
        // Each statement applies only while the row is still where this attempt found it (the attempt before it
        // recorded, not finished): a process whose lease ran out cannot overwrite what another one recorded since.
        const string stillCurrent = "EXISTS (SELECT 1 FROM webhook_outbox c WHERE c.seq = @seq " +
            "AND c.attempts = @attempt - 1 AND c.delivered_at IS NULL AND c.dead_at IS NULL)";
        await SqlDialect.ExecuteManyAsync(connection, dbTransaction,
            "INSERT INTO webhook_attempts (seq, attempt, attempted_at, status_code, error, duration_ms) " +
            $"SELECT @seq, @attempt, @at, @status, @error, @duration WHERE {stillCurrent}", attempts, (command, attempt) =>
            {
                SqlDialect.Add(command, "seq", attempt.Seq);
                SqlDialect.Add(command, "attempt", attempt.Attempt);
                dialect.AddTime(command, "at", attempt.AttemptedAt);
                SqlDialect.Add(command, "status", attempt.StatusCode);
                SqlDialect.Add(command, "error", attempt.Error);
                SqlDialect.Add(command, "duration", attempt.DurationMs);
            }, cancellationToken);
        await SqlDialect.ExecuteManyAsync(connection, dbTransaction,
            "UPDATE webhook_outbox SET attempts = @attempt, last_error = @error, " +
            "delivered_at = CASE WHEN @delivered = 1 THEN @at ELSE NULL END, " +
            "dead_at = CASE WHEN @dead = 1 THEN @at ELSE NULL END, " +
            "available_at = COALESCE(@next, available_at), lease_until = COALESCE(@next, @at) " +
            "WHERE seq = @seq AND attempts = @attempt - 1 AND delivered_at IS NULL AND dead_at IS NULL",
            attempts, (command, attempt) =>
            {
                SqlDialect.Add(command, "seq", attempt.Seq);
                SqlDialect.Add(command, "attempt", attempt.Attempt);
                SqlDialect.Add(command, "error", attempt.Error);
                SqlDialect.Add(command, "delivered", attempt.Delivered ? 1 : 0);
                SqlDialect.Add(command, "dead", attempt.GiveUp ? 1 : 0);
                dialect.AddTime(command, "at", attempt.AttemptedAt);
                dialect.AddTime(command, "next", attempt.NextAttemptAt);
            }, cancellationToken);
        await dbTransaction.CommitAsync(cancellationToken);
    }

    public async Task<int> PruneDeliveriesAsync(DateTime before, int max, CancellationToken cancellationToken)
    {
        await using var connection = await dialect.OpenAsync(cancellationToken);
        await using var dbTransaction = await dialect.BeginWriteAsync(connection, cancellationToken);
        var finished = new List<long>();
        await using (var select = connection.CreateCommand())
        {
            select.Transaction = dbTransaction;
            select.CommandText = "SELECT seq FROM webhook_outbox WHERE delivered_at < @before OR dead_at < @before " +
                "ORDER BY seq LIMIT @max";
            dialect.AddTime(select, "before", before);
            SqlDialect.Add(select, "max", max);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                finished.Add(reader.GetInt64(0));
            }
        }
        if (finished.Count > 0)
        {
            // One selection for both tables: the attempts removed are exactly those of the deliveries removed.
            // Integers read from the database, not user text: a literal list works the same in both dialects.
            var list = string.Join(", ", finished.Select(seq => seq.ToString(CultureInfo.InvariantCulture)));
            foreach (var table in new[] { "webhook_attempts", "webhook_outbox" })
            {
                await using var delete = connection.CreateCommand();
                delete.Transaction = dbTransaction;
                delete.CommandText = $"DELETE FROM {table} WHERE seq IN ({list})";
                await delete.ExecuteNonQueryAsync(cancellationToken);
            }
        }
        await dbTransaction.CommitAsync(cancellationToken);
        return finished.Count;
    }

    public Task<IReadOnlyList<DeliveryAttemptRecord>> ListDeliveryAttemptsAsync(int limit,
        CancellationToken cancellationToken) =>
        QueryAsync("SELECT a.seq, o.event, o.target, a.attempt, a.attempted_at, a.status_code, a.error " +
            "FROM webhook_attempts a JOIN webhook_outbox o ON o.seq = a.seq ORDER BY a.id LIMIT @limit",
            command => SqlDialect.Add(command, "limit", limit),
            reader => new DeliveryAttemptRecord(reader.GetInt64(0), reader.GetString(1), reader.GetString(2),
                reader.GetInt32(3), dialect.ReadTime(reader, 4)!.Value, reader.IsDBNull(5) ? null : reader.GetInt32(5),
                reader.IsDBNull(6) ? null : reader.GetString(6)), cancellationToken);
}
