using System.Data.Common;

namespace Blnk.Storage;

/// <summary>
/// The statements of one writer batch, sent in as few round trips as the database allows.
/// </summary>
/// <remarks>
/// Where the driver can send several statements at once (Npgsql's <see cref="DbBatch"/>), writes wait until the
/// next read or the commit and travel with it: a batch costs one round trip for its reads (with <c>BEGIN</c>) and
/// one for its writes (with <c>COMMIT</c>) instead of one per statement plus two. The transaction is opened and
/// ended by statements in those round trips, so a failing write surfaces at the next read or at the commit, and
/// the whole transaction is rolled back. Elsewhere (SQLite, in-process) each statement runs when it is given.
/// </remarks>
internal sealed class StatementPipeline : IAsyncDisposable
{
    private const string BeginSql = "BEGIN ISOLATION LEVEL READ COMMITTED";

    /// <summary>
    /// Starts the text of an error a statement raises on purpose when a check inside it fails (a check that must
    /// hold before the commit it travels with); the pipeline turns it into an <see cref="Core.InvariantException"/>.
    /// </summary>
    public const string InvariantViolated = "invariant violated: ";

    /// <summary>
    /// Starts the text of the error a balance update raises when a row is no longer as the batch read it; the
    /// pipeline turns it into a <see cref="StaleBalanceException"/>.
    /// </summary>
    public const string BalanceChanged = "balance changed since read: ";

    private readonly DbConnection _connection;
    private readonly DbTransaction? _dbTransaction;
    private readonly List<PendingStatement> _pending = [];
    private bool _opened;
    private bool _ended;

    private StatementPipeline(DbConnection connection, DbTransaction? dbTransaction)
    {
        _connection = connection;
        _dbTransaction = dbTransaction;
    }

    /// <summary>
    /// A write transaction: deferring statements when the connection can batch them, otherwise on the
    /// transaction <paramref name="beginTransaction"/> starts.
    /// </summary>
    public static async Task<StatementPipeline> StartAsync(DbConnection connection,
        Func<ValueTask<DbTransaction>> beginTransaction)
    {
        if (connection.CanCreateBatch)
        {
            var pipeline = new StatementPipeline(connection, null);
            pipeline._pending.Add(new PendingStatement(Plain(connection, BeginSql), null));
            return pipeline;
        }
        return new StatementPipeline(connection, await beginTransaction());
    }

    /// <summary>Statements run one by one on an open transaction (reads that are never committed).</summary>
    public static StatementPipeline OnTransaction(DbConnection connection, DbTransaction dbTransaction) =>
        new(connection, dbTransaction);

    public bool Defers => _dbTransaction is null;

    /// <summary>A command for this batch's transaction (not yet sent).</summary>
    public DbCommand CreateCommand()
    {
        var command = _connection.CreateCommand();
        command.Transaction = _dbTransaction;
        return command;
    }

    /// <summary>
    /// A write, sent later where the pipeline defers. A write that returns a row (a check) hands it to
    /// <paramref name="check"/> once it ran.
    /// </summary>
    public async Task WriteAsync(DbCommand command, Func<DbDataReader, Task>? check,
        CancellationToken cancellationToken)
    {
        if (Defers)
        {
            _pending.Add(new PendingStatement(command, check));
            return;
        }
        await using (command)
        {
            await RunAsync(command, check, cancellationToken);
        }
    }

    /// <summary>
    /// One statement written once per item. Where statements run at once, one command serves every item, so the
    /// statement is compiled once: on SQLite a new command per row compiled it each time (a 22-column insert took
    /// 25 µs a row that way against 15 µs; docs/performance.md).
    /// </summary>
    public async Task WriteEachAsync<T>(string sql, IEnumerable<T> items, Action<DbCommand, T> bind,
        Func<DbDataReader, Task>? check, CancellationToken cancellationToken)
    {
        if (Defers)
        {
            foreach (var item in items)
            {
                var deferred = CreateCommand();
                deferred.CommandText = sql;
                bind(deferred, item);
                await WriteAsync(deferred, check, cancellationToken);
            }
            return;
        }
        await using var command = CreateCommand();
        command.CommandText = sql;
        foreach (var item in items)
        {
            command.Parameters.Clear();
            bind(command, item);
            await RunAsync(command, check, cancellationToken);
        }
    }

    /// <summary>Runs the reads (after any deferred writes), each handing its result to its reader.</summary>
    public async Task ReadAsync(IReadOnlyList<(DbCommand Command, Func<DbDataReader, Task> Read)> reads,
        CancellationToken cancellationToken)
    {
        if (Defers)
        {
            _pending.AddRange(reads.Select(read => new PendingStatement(read.Command, read.Read)));
            await SendAsync(cancellationToken);
            return;
        }
        foreach (var (command, read) in reads)
        {
            await using (command)
            {
                await RunAsync(command, read, cancellationToken);
            }
        }
    }

    /// <summary>Runs one statement now and hands its result to <paramref name="read"/>, if any.</summary>
    private static async Task RunAsync(DbCommand command, Func<DbDataReader, Task>? read,
        CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (read is not null)
        {
            await read(reader);
        }
    }

    /// <summary>Sends what is deferred, so the connection can be used directly inside the transaction.</summary>
    public Task FlushAsync(CancellationToken cancellationToken) =>
        Defers && _pending.Count > 0 ? SendAsync(cancellationToken) : Task.CompletedTask;

    /// <summary>The transaction for direct use of the connection (null when it was opened by a statement).</summary>
    public DbTransaction? Transaction => _dbTransaction;

    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        if (!Defers)
        {
            await _dbTransaction!.CommitAsync(cancellationToken);
            return;
        }
        _pending.Add(new PendingStatement(Plain(_connection, "COMMIT"), null));
        await SendAsync(cancellationToken);
        _ended = true;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var statement in _pending)
        {
            await statement.Command.DisposeAsync();
        }
        if (_dbTransaction is not null)
        {
            await _dbTransaction.DisposeAsync();
        }
        else if (_opened && !_ended && _connection.State == System.Data.ConnectionState.Open)
        {
            await RollbackAsync();
        }
    }

    private async Task RollbackAsync()
    {
        try
        {
            await using var rollback = Plain(_connection, "ROLLBACK");
            await rollback.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (DbException)
        {
            // The connection broke (the failure being handled may be that): the server ends the transaction when
            // the connection closes, and the pool does not reuse a broken connection.
        }
    }

    private async Task SendAsync(CancellationToken cancellationToken)
    {
        var statements = _pending.ToList();
        _pending.Clear();
        await using var batch = _connection.CreateBatch();
        foreach (var statement in statements)
        {
            batch.BatchCommands.Add(ToBatchCommand(batch, statement.Command));
        }
        _opened = true;
        try
        {
            // Prepared on first use per connection, then reused by their text: PostgreSQL planned the row insert
            // and the balance update anew in every batch (~50 and ~160 µs), which a one-transfer batch waited for.
            // A batch built afresh each time, so not Npgsql's auto-prepare (it re-sent a reused command's values).
            // Each distinct text stays prepared for the connection's life: statements bind values, never embed them.
            await batch.PrepareAsync(cancellationToken);
            await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
            {
                foreach (var statement in statements.Where(statement => statement.Read is not null))
                {
                    // Statements without a result set (plain writes) may show as results without columns: skip them.
                    // Every statement with a reader returns columns, even when it returns no row.
                    while (reader.FieldCount == 0)
                    {
                        Core.Invariant.Assert(await reader.NextResultAsync(cancellationToken));
                    }
                    await statement.Read!(reader);
                    await reader.NextResultAsync(cancellationToken);
                }
                // Drain the rest so an error in a later statement is raised here.
                while (await reader.NextResultAsync(cancellationToken))
                {
                }
            }
        }
        catch (DbException exception) when (exception.Message.Contains(InvariantViolated, StringComparison.Ordinal))
        {
            throw new Core.InvariantException(exception.Message);
        }
        catch (DbException exception) when (exception.Message.Contains(BalanceChanged, StringComparison.Ordinal))
        {
            throw new StaleBalanceException(exception.Message);
        }
        finally
        {
            foreach (var statement in statements)
            {
                await statement.Command.DisposeAsync();
            }
        }
    }

    private static DbBatchCommand ToBatchCommand(DbBatch batch, DbCommand command)
    {
        var batchCommand = batch.CreateBatchCommand();
        batchCommand.CommandText = command.CommandText;
        var parameters = command.Parameters.Cast<DbParameter>().ToArray();
        command.Parameters.Clear();
        foreach (var parameter in parameters)
        {
            batchCommand.Parameters.Add(parameter);
        }
        return batchCommand;
    }

    private static DbCommand Plain(DbConnection connection, string sql)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        return command;
    }

    private sealed record PendingStatement(DbCommand Command, Func<DbDataReader, Task>? Read);
}
