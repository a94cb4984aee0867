using System.Data.Common;
using System.Globalization;
using System.Numerics;
using Blnk.Core.Balances;
using Blnk.Core.Transactions;

namespace Blnk.Storage;

/// <summary>
/// A balance as of a moment: the APPLIED transactions effective (<c>COALESCE(effective_date, created_at)</c>)
/// at or before it. Inflight amounts are not part of history. <c>SnapshotTime</c> is the snapshot the sum
/// started from (null: from zero); <c>TransactionsCounted</c> how many transactions effective by the moment
/// were read on top of it.
/// </summary>
public sealed record BalanceAtTime(string BalanceId, string Currency, DateTime BalanceCreatedAt,
    BigInteger CreditBalance, BigInteger DebitBalance, DateTime? SnapshotTime, int TransactionsCounted)
{
    public BigInteger Balance => CreditBalance - DebitBalance;
}

/// <summary>
/// One stored daily copy of a balance (table <c>balance_snapshots</c>): every APPLIED row of the balance up
/// to <c>LastTransactionSeq</c> (a <c>transactions.seq</c>) is in the copy, no later one is.
/// </summary>
public sealed record BalanceSnapshot(string BalanceId, string LedgerId, string Currency, BalanceAmounts Amounts,
    DateTime SnapshotTime, string SnapshotDate, DateTime CreatedAt, string? LastTransactionId,
    long LastTransactionSeq);

/// <summary>
/// What one snapshot batch did: how many balances it copied, and the last balance id it took, where the
/// next batch continues (null when no balance was left to snapshot).
/// </summary>
public readonly record struct SnapshotBatchResult(int Inserted, string? LastBalanceId);

public partial interface ILedgerStore
{
    /// <summary>
    /// The balance as of <paramref name="at"/> (contract §4.3, exact to the microsecond): from the latest
    /// snapshot taken at or before it, or from zero when <paramref name="fromSource"/>; null when the balance
    /// does not exist.
    /// </summary>
    Task<BalanceAtTime?> GetBalanceAtAsync(string balanceId, DateTime at, bool fromSource,
        CancellationToken cancellationToken);

    /// <summary>
    /// Snapshots, in one database transaction, up to <paramref name="batchSize"/> balances whose id sorts after
    /// <paramref name="afterBalanceId"/> (null: from the start) and that have no snapshot on the UTC day of
    /// <paramref name="now"/>. Each copy equals its balance row at that moment.
    /// </summary>
    Task<SnapshotBatchResult> SnapshotBalancesAsync(string? afterBalanceId, int batchSize, DateTime now,
        CancellationToken cancellationToken);

    /// <summary>A balance's snapshots, oldest first.</summary>
    Task<IReadOnlyList<BalanceSnapshot>> ListBalanceSnapshotsAsync(string balanceId,
        CancellationToken cancellationToken);
}

public partial class SqlLedgerStore
{
    private const string SnapshotAmountColumns = "balance, credit_balance, debit_balance, inflight_balance, " +
        "inflight_credit_balance, inflight_debit_balance";

    private const string SnapshotColumns = "balance_id, ledger_id, currency, credit_balance, debit_balance, " +
        "inflight_credit_balance, inflight_debit_balance, snapshot_time, snapshot_date, created_at, last_tx_id, " +
        "last_tx_seq";

    /// <summary>
    /// The rows that correct a snapshot (covering seq ≤ @covered) to the moment @at: a row counts (+1) when
    /// the snapshot lacks it and it is effective by @at, and is taken back out (−1) when the snapshot holds
    /// it but it is effective after @at (future-dated). So a transaction backdated after a snapshot was
    /// taken still counts, which Blnk's time-window sum misses. From zero, @covered is 0.
    /// </summary>
    private const string HistoryRowsSql = "SELECT source, destination, precise_amount, " +
        "CASE WHEN seq > @covered THEN 1 ELSE -1 END FROM transactions " +
        "WHERE (source = @id OR destination = @id) AND status = '" + TransactionStatus.Applied + "' AND (" +
        "(seq > @covered AND COALESCE(effective_date, created_at) <= @at) OR " +
        "(seq <= @covered AND COALESCE(effective_date, created_at) > @at))";

    public async Task<BalanceAtTime?> GetBalanceAtAsync(string balanceId, DateTime at, bool fromSource,
        CancellationToken cancellationToken)
    {
        await using var connection = await SqlDialect.OpenAsync(cancellationToken);
        var balance = await ReadHistoryBalanceAsync(connection, balanceId, cancellationToken);
        if (balance is null)
        {
            return null;
        }
        var snapshot = fromSource ? null : await ReadLatestSnapshotAsync(connection, balanceId, at, cancellationToken);
        var credit = snapshot?.Amounts.CreditBalance ?? BigInteger.Zero;
        var debit = snapshot?.Amounts.DebitBalance ?? BigInteger.Zero;
        var counted = 0;
        await using var command = connection.CreateCommand();
        command.CommandText = HistoryRowsSql;
        SqlDialect.Add(command, "id", balanceId);
        SqlDialect.Add(command, "covered", snapshot?.LastTransactionSeq ?? 0L);
        SqlDialect.AddTime(command, "at", at);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            // Summed here, never in SQL: SQLite stores amounts as text.
            var sign = Convert.ToInt32(reader.GetValue(3), CultureInfo.InvariantCulture);
            var amount = SqlDialect.ReadAmount(reader, 2) * sign;
            counted += sign > 0 ? 1 : 0;
            if (reader.GetString(0) == balanceId)
            {
                debit += amount;
            }
            if (reader.GetString(1) == balanceId)
            {
                credit += amount;
            }
        }
        return new BalanceAtTime(balanceId, balance.Value.Currency, balance.Value.CreatedAt, credit, debit,
            snapshot?.SnapshotTime, counted);
    }

    public async Task<SnapshotBatchResult> SnapshotBalancesAsync(string? afterBalanceId, int batchSize, DateTime now,
        CancellationToken cancellationToken)
    {
        var day = now.ToUniversalTime().ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        await using var connection = await SqlDialect.OpenAsync(cancellationToken);
        // The writer's lock: SQLite's write lock, or on PostgreSQL the batch's balance rows below, taken in
        // balance_id order as the writer takes them (so neither can deadlock the other).
        await using var dbTransaction = await SqlDialect.BeginWriteAsync(connection, cancellationToken);
        var ids = await LockBalancesToSnapshotAsync(connection, dbTransaction, afterBalanceId, batchSize, day,
            cancellationToken);
        if (ids.Count == 0)
        {
            await dbTransaction.CommitAsync(cancellationToken);
            return new SnapshotBatchResult(0, null);
        }
        var (lastSeq, lastId) = await ReadLogHeadAsync(connection, dbTransaction, cancellationToken);
        await using var insert = connection.CreateCommand();
        insert.Transaction = dbTransaction;
        var membership = SqlDialect.AddInList(insert, "ids", ids);
        insert.CommandText = $"INSERT INTO balance_snapshots (balance_id, ledger_id, {SnapshotAmountColumns}, " +
            "currency, snapshot_time, snapshot_date, created_at, last_tx_id, last_tx_seq) " +
            $"SELECT balance_id, ledger_id, {SnapshotAmountColumns}, currency, @time, @day, @time, @lastId, @lastSeq " +
            $"FROM balances WHERE balance_id {membership} ON CONFLICT (balance_id, snapshot_date) DO NOTHING";
        SqlDialect.AddTime(insert, "time", now);
        SqlDialect.Add(insert, "day", day);
        SqlDialect.Add(insert, "lastId", lastId);
        SqlDialect.Add(insert, "lastSeq", lastSeq);
        var inserted = await insert.ExecuteNonQueryAsync(cancellationToken);
        await dbTransaction.CommitAsync(cancellationToken);
        return new SnapshotBatchResult(inserted, ids[^1]);
    }

    public async Task<IReadOnlyList<BalanceSnapshot>> ListBalanceSnapshotsAsync(string balanceId,
        CancellationToken cancellationToken)
    {
        await using var connection = await SqlDialect.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {SnapshotColumns} FROM balance_snapshots WHERE balance_id = @id " +
            "ORDER BY snapshot_time";
        SqlDialect.Add(command, "id", balanceId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var snapshots = new List<BalanceSnapshot>();
        while (await reader.ReadAsync(cancellationToken))
        {
            snapshots.Add(ReadSnapshot(reader));
        }
        return snapshots;
    }

    private async Task<(string Currency, DateTime CreatedAt)?> ReadHistoryBalanceAsync(DbConnection connection,
        string balanceId, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT currency, created_at FROM balances WHERE balance_id = @id";
        SqlDialect.Add(command, "id", balanceId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? (reader.GetString(0), SqlDialect.ReadTime(reader, 1)!.Value)
            : null;
    }

    private async Task<BalanceSnapshot?> ReadLatestSnapshotAsync(DbConnection connection, string balanceId,
        DateTime at, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {SnapshotColumns} FROM balance_snapshots WHERE balance_id = @id " +
            "AND snapshot_time <= @at ORDER BY snapshot_time DESC LIMIT 1";
        SqlDialect.Add(command, "id", balanceId);
        SqlDialect.AddTime(command, "at", at);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadSnapshot(reader) : null;
    }

    private async Task<List<string>> LockBalancesToSnapshotAsync(DbConnection connection, DbTransaction dbTransaction,
        string? afterBalanceId, int batchSize, string day, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = dbTransaction;
        command.CommandText = "SELECT balance_id FROM balances b WHERE balance_id > @after AND NOT EXISTS " +
            "(SELECT 1 FROM balance_snapshots s WHERE s.balance_id = b.balance_id AND s.snapshot_date = @day) " +
            $"ORDER BY balance_id LIMIT @max {SqlDialect.LockRowsClause}";
        SqlDialect.Add(command, "after", afterBalanceId ?? "");
        SqlDialect.Add(command, "day", day);
        SqlDialect.Add(command, "max", batchSize);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var ids = new List<string>();
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.GetString(0));
        }
        return ids;
    }

    /// <summary>
    /// The newest transaction row visible now. Read while the batch's balances are locked: every APPLIED
    /// row of those balances is written under their lock, so each one at or below this seq is already in
    /// the balance row, and any later one will get a higher seq.
    /// </summary>
    private static async Task<(long Seq, string? TransactionId)> ReadLogHeadAsync(DbConnection connection,
        DbTransaction dbTransaction, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = dbTransaction;
        command.CommandText = "SELECT seq, transaction_id FROM transactions ORDER BY seq DESC LIMIT 1";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.GetInt64(0), reader.GetString(1)) : (0L, null);
    }

    private BalanceSnapshot ReadSnapshot(DbDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.GetString(2),
        new BalanceAmounts(SqlDialect.ReadAmount(reader, 3), SqlDialect.ReadAmount(reader, 4),
            SqlDialect.ReadAmount(reader, 5), SqlDialect.ReadAmount(reader, 6)),
        SqlDialect.ReadTime(reader, 7)!.Value,
        reader.GetString(8),
        SqlDialect.ReadTime(reader, 9)!.Value,
        reader.IsDBNull(10) ? null : reader.GetString(10),
        reader.GetInt64(11));
}
