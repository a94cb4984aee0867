using System.Data.Common;
using System.Globalization;
using System.Numerics;
using Blnk.Core.Transactions;
using Npgsql;
using NpgsqlTypes;

namespace Blnk.Storage.Postgres;

/// <summary>
/// A writer batch's rows as one statement each over <c>unnest</c>ed arrays: PostgreSQL parses, plans and
/// executes once per batch instead of once per row (measured on 2 cores: a batch of ~150 transfers spent
/// ~11 ms inserting and ~4.5 ms updating balances with one statement per row, ~5 ms and ~1 ms this way).
/// Amounts travel as text and are cast to NUMERIC, so no digit is lost.
/// </summary>
internal sealed class PostgresBulkWriter : IBulkWriter
{
    // The rows go in only if every balance they name exists: one lookup per distinct balance (@balances), for the
    // whole set, and a count short of them fails the cast, and with it the transaction, as the balance update does
    // (the message holds count(*) so that PostgreSQL cannot fold the cast, and fail it, while planning).
    // Foreign keys checked this once per row and key, with a locking lookup each: 21 % of the writer backend's time
    // under bulk load (migration 0009). Balances are never deleted, so the rows need no lock on them.
    private const string InsertTransactionsSql = "WITH inserted AS (" +
        $"INSERT INTO transactions ({SqlLedgerStore.TransactionColumns}) " +
        "SELECT id, parent, source, destination, reference, currency, description, status, hash, amount::numeric, " +
        "precision::numeric, overdraft, allow, inflight, skip, atomic, created, effective, scheduled, expiry, " +
        "commit_date, meta::jsonb FROM unnest(@id, @parent, @source, @destination, @reference, @currency, " +
        "@description, @status, @hash, @amount, @precision, @overdraft, @allow, @inflight, @skip, @atomic, " +
        "@created, @effective, @scheduled, @expiry, @commit, @meta) WITH ORDINALITY AS v(id, parent, source, " +
        "destination, reference, currency, description, status, hash, amount, precision, overdraft, allow, " +
        "inflight, skip, atomic, created, effective, scheduled, expiry, commit_date, meta, ordinal) " +
        "ORDER BY ordinal RETURNING 1) " +
        "SELECT CASE WHEN (SELECT count(*) FROM balances WHERE balance_id = ANY(@balances)) = " +
        "cardinality(@balances) THEN count(*) " +
        "ELSE ('one of ' || count(*) || ' transactions names an unknown balance')::bigint END FROM inserted";

    // An entry takes its seq from its row, so an entry whose row is missing would be skipped, not refused, and its
    // accepted transaction never applied: the count fails the cast, and the transaction, as the insert's does.
    private const string EnqueueSql = "WITH entered AS (INSERT INTO transaction_queue (transaction_id, seq, " +
        "available_at, lease_until, group_id, lease_owner, scheduled) SELECT t.transaction_id, t.seq, v.available, " +
        "COALESCE(v.leased, v.available), v.group_id, CASE WHEN v.leased IS NULL THEN NULL ELSE @owner END, " +
        $"t.status = '{TransactionStatus.Scheduled}' FROM unnest(@id, @available, @group, @leased) " +
        "AS v(id, available, group_id, leased) JOIN transactions t ON t.transaction_id = v.id RETURNING 1) " +
        "SELECT CASE WHEN count(*) = cardinality(@id) THEN count(*) " +
        $"ELSE ('entered ' || count(*) || ' of ' || cardinality(@id) || ': {SqlWriteBatch.QueueEntryWithoutRow}')" +
        "::bigint END FROM entered";

    private const string InsertOutboxSql = "INSERT INTO webhook_outbox (event, payload, created_at, target, url, " +
        "hook_id, entity_key, available_at, lease_until) SELECT event, payload, @now, target, url, hook, key, @now, " +
        "@now FROM unnest(@event, @payload, @target, @url, @hook, @key) WITH ORDINALITY AS v(event, payload, target, " +
        "url, hook, key, ordinal) ORDER BY ordinal";

    // Only rows still as the batch read them are updated (same version and identity: a batch may decide from
    // balances it remembers instead of locking them first). The update is sent together with COMMIT, so the count
    // is checked in the statement itself: a count other than the balances given fails the cast, and with it the
    // transaction, instead of being committed. Rows are taken in balance-id order, as the writer's locking read
    // takes them, so two processes' batches queue behind each other instead of deadlocking.
    private const string UpdateBalancesSql = "WITH updated AS (UPDATE balances b SET balance = v.balance::numeric, " +
        "credit_balance = v.credit::numeric, debit_balance = v.debit::numeric, " +
        "inflight_balance = v.inflight::numeric, inflight_credit_balance = v.inflight_credit::numeric, " +
        "inflight_debit_balance = v.inflight_debit::numeric, version = v.version " +
        "FROM unnest(@id, @balance, @credit, @debit, @inflight, @inflightCredit, @inflightDebit, @version, " +
        "@readVersion, @identity) AS v(id, balance, credit, debit, inflight, inflight_credit, inflight_debit, " +
        "version, read_version, identity) " +
        "WHERE b.balance_id = v.id AND b.version = v.read_version AND b.identity_id IS NOT DISTINCT FROM v.identity " +
        "RETURNING 1) " +
        "SELECT CASE WHEN count(*) = cardinality(@id) THEN count(*) " +
        $"ELSE ('{StatementPipeline.BalanceChanged}updated ' || count(*) || ' of ' || cardinality(@id))" +
        "::bigint END FROM updated";

    public void InsertTransactions(DbCommand command, IReadOnlyList<TransactionRecord> rows)
    {
        command.CommandText = InsertTransactionsSql;
        Text(command, "id", rows, row => row.TransactionId);
        Text(command, "parent", rows, row => row.ParentTransaction);
        Text(command, "source", rows, row => row.Source);
        Text(command, "destination", rows, row => row.Destination);
        Array(command, "balances", NpgsqlDbType.Text,
            rows.SelectMany(row => new[] { row.Source, row.Destination }).Distinct(StringComparer.Ordinal).ToArray());
        Text(command, "reference", rows, row => row.Reference);
        Text(command, "currency", rows, row => row.Currency);
        Text(command, "description", rows, row => row.Description);
        Text(command, "status", rows, row => row.Status);
        Text(command, "hash", rows, row => row.Hash);
        Text(command, "amount", rows, row => Digits(row.PreciseAmount));
        Text(command, "precision", rows, row => Digits(row.Precision));
        Array(command, "overdraft", NpgsqlDbType.Double, rows.Select(row => row.OverdraftLimit).ToArray());
        Flags(command, "allow", rows, row => row.AllowOverdraft);
        Flags(command, "inflight", rows, row => row.Inflight);
        Flags(command, "skip", rows, row => row.SkipQueue);
        Flags(command, "atomic", rows, row => row.Atomic);
        Times(command, "created", rows, row => row.CreatedAt);
        Times(command, "effective", rows, row => row.EffectiveDate);
        Times(command, "scheduled", rows, row => row.ScheduledFor);
        Times(command, "expiry", rows, row => row.InflightExpiryDate);
        Times(command, "commit", rows, row => row.InflightCommitDate);
        Text(command, "meta", rows, row => row.MetaDataJson);
    }

    public void Enqueue(DbCommand command, IReadOnlyList<QueueEntry> entries, long leaseOwner)
    {
        command.CommandText = EnqueueSql;
        Text(command, "id", entries, entry => entry.TransactionId);
        Times(command, "available", entries, entry => entry.AvailableAt);
        Text(command, "group", entries, entry => entry.GroupId);
        Times(command, "leased", entries, entry => entry.LeasedUntil);
        command.Parameters.Add(new NpgsqlParameter("owner", NpgsqlDbType.Bigint) { Value = leaseOwner });
    }

    public void InsertOutbox(DbCommand command, IReadOnlyList<OutboxEvent> events, DateTime now)
    {
        command.CommandText = InsertOutboxSql;
        Text(command, "event", events, outboxEvent => outboxEvent.Event);
        Text(command, "payload", events, outboxEvent => outboxEvent.PayloadJson);
        Text(command, "target", events, outboxEvent => outboxEvent.Target);
        Text(command, "url", events, outboxEvent => outboxEvent.Url);
        Text(command, "hook", events, outboxEvent => outboxEvent.HookId);
        Text(command, "key", events, outboxEvent => outboxEvent.EntityKey);
        command.Parameters.Add(new NpgsqlParameter("now", NpgsqlDbType.TimestampTz)
        {
            Value = DateTime.SpecifyKind(now, DateTimeKind.Utc),
        });
    }

    public void UpdateBalances(DbCommand command, IReadOnlyCollection<BalanceWrite> writes)
    {
        var ordered = writes.OrderBy(write => write.Balance.BalanceId, StringComparer.Ordinal).ToList();
        command.CommandText = UpdateBalancesSql;
        Text(command, "id", ordered, write => write.Balance.BalanceId);
        Text(command, "balance", ordered, write => Digits(write.Balance.Amounts.Balance));
        Text(command, "credit", ordered, write => Digits(write.Balance.Amounts.CreditBalance));
        Text(command, "debit", ordered, write => Digits(write.Balance.Amounts.DebitBalance));
        Text(command, "inflight", ordered, write => Digits(write.Balance.Amounts.InflightBalance));
        Text(command, "inflightCredit", ordered, write => Digits(write.Balance.Amounts.InflightCreditBalance));
        Text(command, "inflightDebit", ordered, write => Digits(write.Balance.Amounts.InflightDebitBalance));
        Array(command, "version", NpgsqlDbType.Bigint, ordered.Select(write => write.Balance.Version).ToArray());
        Array(command, "readVersion", NpgsqlDbType.Bigint, ordered.Select(write => write.ReadVersion).ToArray());
        Text(command, "identity", ordered, write => write.Balance.IdentityId);
    }

    private static string Digits(BigInteger value) => value.ToString(CultureInfo.InvariantCulture);

    private static void Text<T>(DbCommand command, string name, IEnumerable<T> items, Func<T, string?> value) =>
        Array(command, name, NpgsqlDbType.Text, items.Select(value).ToArray());

    private static void Flags<T>(DbCommand command, string name, IEnumerable<T> items, Func<T, bool> value) =>
        Array(command, name, NpgsqlDbType.Boolean, items.Select(value).ToArray());

    private static void Times<T>(DbCommand command, string name, IEnumerable<T> items, Func<T, DateTime?> value) =>
        Array(command, name, NpgsqlDbType.TimestampTz, items
            .Select(item => value(item) is { } time ? DateTime.SpecifyKind(time, DateTimeKind.Utc) : (DateTime?)null)
            .ToArray());

    private static void Array(DbCommand command, string name, NpgsqlDbType elementType, object values) =>
        command.Parameters.Add(new NpgsqlParameter(name, NpgsqlDbType.Array | elementType) { Value = values });
}
