using System.Data.Common;
using System.Globalization;
using Blnk.Core;
using Blnk.Core.Transactions;

namespace Blnk.Storage;

public partial interface ILedgerStore
{
    /// <summary>
    /// The rows an id names for an inflight action or a refund, with one of <paramref name="statuses"/>:
    /// the row itself, its children (a queued transaction's outcome, split legs, bulk items) and their
    /// children (the outcomes of queued legs and items), in log order.
    /// </summary>
    Task<IReadOnlyList<TransactionRecord>> FindFamilyAsync(string transactionId, IReadOnlyCollection<string> statuses,
        CancellationToken cancellationToken);

    /// <summary>
    /// <see cref="FindFamilyAsync"/> for several ids in one statement: every requested id maps to exactly the rows
    /// <see cref="FindFamilyAsync"/> returns for it (empty for an unknown or empty id). A row under two requested
    /// ids (one is the other's child) is in both families.
    /// </summary>
    Task<Dictionary<string, IReadOnlyList<TransactionRecord>>> FindFamiliesAsync(
        IReadOnlyCollection<string> transactionIds, IReadOnlyCollection<string> statuses,
        CancellationToken cancellationToken);

    /// <summary>Whether any of the QUEUED rows still waits in the queue (its own entry or its atomic group's).</summary>
    Task<bool> HasQueuedWorkAsync(IReadOnlyCollection<TransactionRecord> queuedRows, CancellationToken cancellationToken);

    /// <summary>Commit/void progress of inflight rows, read without locks (for answers and previews).</summary>
    Task<Dictionary<string, HoldProgress>> GetHoldProgressAsync(IReadOnlyCollection<string> holdIds,
        CancellationToken cancellationToken);

    /// <summary>Whether a commit or void request is stored for any of these holds and not yet applied.</summary>
    Task<bool> HasQueuedInflightRequestAsync(IReadOnlyCollection<string> holdIds, CancellationToken cancellationToken);

    /// <summary>Stores queued commit/void requests, all or none; false when one of the holds already has one pending.</summary>
    Task<bool> TryQueueInflightActionsAsync(IReadOnlyList<InflightActionEntry> actions,
        CancellationToken cancellationToken);

    /// <summary>Leases due inflight actions, oldest first (see <see cref="ClaimQueuedAsync"/>).</summary>
    Task<IReadOnlyList<InflightActionEntry>> ClaimInflightActionsAsync(int max, DateTime now, DateTime leaseUntil,
        CancellationToken cancellationToken);
}

public partial class SqlLedgerStore
{
    private const string ActionColumns = "action_id, transaction_id, action, precise_amount, origin, available_at";

    public async Task<IReadOnlyList<TransactionRecord>> FindFamilyAsync(string transactionId,
        IReadOnlyCollection<string> statuses, CancellationToken cancellationToken) =>
        (await FindFamiliesAsync([transactionId], statuses, cancellationToken))[transactionId];

    public async Task<Dictionary<string, IReadOnlyList<TransactionRecord>>> FindFamiliesAsync(
        IReadOnlyCollection<string> transactionIds, IReadOnlyCollection<string> statuses,
        CancellationToken cancellationToken)
    {
        // Every row without a parent has parent_transaction '': an empty id names nothing, not all of them.
        var named = transactionIds.Where(id => id.Length > 0).ToHashSet(StringComparer.Ordinal);
        var members = named.Count == 0 ? [] : await ReadFamilyMembersAsync(named, statuses, cancellationToken);
        var families = members.OrderBy(member => member.Seq)
            .GroupBy(member => member.FamilyId, StringComparer.Ordinal)
            .ToDictionary(family => family.Key,
                family => (IReadOnlyList<TransactionRecord>)[.. family.Select(member => member.Row)],
                StringComparer.Ordinal);
        foreach (var transactionId in transactionIds)
        {
            families.TryAdd(transactionId, []);
        }
        return families;
    }

    /// <summary>Each row of the requested families with its seq and the requested id whose family it is in.</summary>
    private async Task<List<(string FamilyId, long Seq, TransactionRecord Row)>> ReadFamilyMembersAsync(
        HashSet<string> transactionIds, IReadOnlyCollection<string> statuses,
        CancellationToken cancellationToken) =>
        await LookupAsync(command => BindFamilyLookup(command, transactionIds, statuses), reader =>
        {
            var familyId = reader.GetString(TransactionColumnCount + 1);
            Invariant.Assert(transactionIds.Contains(familyId));
            return (FamilyId: familyId, Seq: reader.GetInt64(TransactionColumnCount), Row: ReadTransaction(reader));
        }, cancellationToken);

    /// <summary>
    /// The rows, their children and grandchildren in one statement, each with the requested id whose family it is
    /// in (a grandchild's comes from its parent by the unique id index). Index lookups joined with UNION ALL (one
    /// OR over them made PostgreSQL scan the whole table), with no join and no ORDER BY, so that even a plan made
    /// without the ids (PostgreSQL's lookup sessions) has no choice but those lookups: statistics that see nearly
    /// every parent_transaction empty otherwise made it scan the parent index whole, in seq order.
    /// </summary>
    internal void BindFamilyLookup(DbCommand command, IReadOnlyCollection<string> transactionIds,
        IReadOnlyCollection<string> statuses)
    {
        Invariant.Assert(transactionIds.Count > 0);
        Invariant.Assert(!transactionIds.Contains(""));
        var ids = SqlDialect.AddInList(command, "ids", transactionIds);
        var status = "t.status " + SqlDialect.AddInList(command, "statuses", statuses);
        var columns = string.Join(", ", TransactionColumns.Split(", ").Select(column => "t." + column)) + ", t.seq";
        var children = SqlDialect.InSubquery(
            $"SELECT c.transaction_id FROM transactions c WHERE c.parent_transaction {ids}");
        command.CommandText =
            $"SELECT {columns}, t.transaction_id FROM transactions t WHERE t.transaction_id {ids} AND {status} " +
            $"UNION ALL SELECT {columns}, t.parent_transaction FROM transactions t " +
            $"WHERE t.parent_transaction {ids} AND {status} " +
            $"UNION ALL SELECT {columns}, (SELECT c.parent_transaction FROM transactions c " +
            $"WHERE c.transaction_id = t.parent_transaction) FROM transactions t " +
            $"WHERE t.parent_transaction {children} AND {status}";
    }

    public async Task<bool> HasQueuedWorkAsync(IReadOnlyCollection<TransactionRecord> queuedRows,
        CancellationToken cancellationToken)
    {
        if (queuedRows.Count == 0)
        {
            return false;
        }
        await using var connection = await SqlDialect.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        var ids = SqlDialect.AddInList(command, "ids", [.. queuedRows.Select(row => row.TransactionId)]);
        var groups = SqlDialect.AddInList(command, "groups",
            [.. queuedRows.Select(row => row.ParentTransaction).Where(parent => parent.Length > 0).Append("")]);
        command.CommandText = $"SELECT COUNT(*) FROM transaction_queue WHERE transaction_id {ids} OR group_id {groups}";
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture) > 0;
    }

    public async Task<Dictionary<string, HoldProgress>> GetHoldProgressAsync(IReadOnlyCollection<string> holdIds,
        CancellationToken cancellationToken)
    {
        await using var batch = await BeginReadBatchAsync(cancellationToken);
        return await batch.LoadHoldProgressAsync(holdIds, cancellationToken);
    }

    /// <summary>
    /// Prepared (<see cref="LookupAsync"/>): every queued commit or void asks it, and planning it cost more than
    /// running it (0.1 ms against 6 µs on PostgreSQL).
    /// </summary>
    public async Task<bool> HasQueuedInflightRequestAsync(IReadOnlyCollection<string> holdIds,
        CancellationToken cancellationToken)
    {
        var pending = await LookupAsync(command =>
        {
            var ids = SqlDialect.AddInList(command, "ids", [.. holdIds]);
            SqlDialect.Add(command, "origin", OriginText(InflightActionOrigin.Request));
            command.CommandText = $"SELECT transaction_id FROM inflight_actions WHERE transaction_id {ids} " +
                "AND origin = @origin";
        }, reader => reader.GetString(0), cancellationToken);
        return pending.Count > 0;
    }

    public async Task<bool> TryQueueInflightActionsAsync(IReadOnlyList<InflightActionEntry> actions,
        CancellationToken cancellationToken)
    {
        await using var batch = await BeginRequestBatchAsync(cancellationToken);
        try
        {
            await batch.ScheduleInflightActionsAsync(actions, cancellationToken);
            await batch.CommitAsync(cancellationToken);
            return true;
        }
        catch (DbException exception) when (SqlDialect.IsUniqueViolation(exception, out _))
        {
            return false;
        }
    }

    public async Task<IReadOnlyList<InflightActionEntry>> ClaimInflightActionsAsync(int max, DateTime now,
        DateTime leaseUntil, CancellationToken cancellationToken)
    {
        if (!await AnyDueAsync(DueSql("inflight_actions", "1 = 1"), now, cancellationToken))
        {
            return [];
        }
        var actions = await ClaimRowsAsync(SqlDialect.ClaimDueSql("inflight_actions", "action_id",
            "available_at, action_id", ActionColumns), max, now, leaseUntil, ReadInflightAction, cancellationToken);
        return [.. actions.OrderBy(action => action.AvailableAt)];
    }

    internal void AddInflightActionParameters(DbCommand command, InflightActionEntry action)
    {
        SqlDialect.Add(command, "id", action.ActionId);
        SqlDialect.Add(command, "transaction", action.TransactionId);
        SqlDialect.Add(command, "action", action.Commit ? "commit" : "void");
        if (action.PreciseAmount is { } amount)
        {
            SqlDialect.AddAmount(command, "amount", amount);
        }
        else
        {
            SqlDialect.Add(command, "amount", null);
        }
        SqlDialect.Add(command, "origin", OriginText(action.Origin));
        SqlDialect.AddTime(command, "available", action.AvailableAt);
    }

    /// <summary>A database transaction that is only read and never committed.</summary>
    private async Task<SqlWriteBatch> BeginReadBatchAsync(CancellationToken cancellationToken)
    {
        var connection = await SqlDialect.OpenAsync(cancellationToken);
        var dbTransaction = await SqlDialect.BeginReadAsync(connection, cancellationToken);
        return new SqlWriteBatch(this, connection, StatementPipeline.OnTransaction(connection, dbTransaction));
    }

    private InflightActionEntry ReadInflightAction(DbDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.GetString(2) == "commit",
        reader.IsDBNull(3) ? null : SqlDialect.ReadAmount(reader, 3),
        reader.GetString(4) switch
        {
            "request" => InflightActionOrigin.Request,
            "expiry" => InflightActionOrigin.Expiry,
            _ => InflightActionOrigin.ScheduledCommit,
        },
        SqlDialect.ReadTime(reader, 5)!.Value);

    private static string OriginText(InflightActionOrigin origin) => origin switch
    {
        InflightActionOrigin.Request => "request",
        InflightActionOrigin.Expiry => "expiry",
        InflightActionOrigin.ScheduledCommit => "scheduled_commit",
    };
}
