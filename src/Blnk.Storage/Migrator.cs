using System.Data.Common;
using System.Globalization;
using System.Reflection;

namespace Blnk.Storage;

/// <summary>
/// Forward-only numbered migrations per dialect (embedded <c>Migrations/&lt;Dialect&gt;/NNNN_name.sql</c>),
/// recorded in <c>schema_migrations</c>. Each script runs in its own database transaction.
/// </summary>
public static class Migrator
{
    public static async Task MigrateAsync(SqlDialect dialect, CancellationToken cancellationToken)
    {
        await using var connection = await dialect.OpenAsync(cancellationToken);
        // Several processes may start at once: each migrates while holding the dialect's migration lock.
        await using var migrationLock = await dialect.LockForMigrationAsync(connection, cancellationToken);
        await using (var create = connection.CreateCommand())
        {
            create.CommandText = dialect.PrepareMigrationsSql;
            await create.ExecuteNonQueryAsync(cancellationToken);
        }
        foreach (var (version, name, sql) in Scripts(dialect.Name))
        {
            await using var dbTransaction = await dialect.BeginWriteAsync(connection, cancellationToken);
            if (!await IsAppliedAsync(connection, dbTransaction, version, cancellationToken))
            {
                await ExecuteAsync(connection, dbTransaction, sql, cancellationToken);
                await using var record = connection.CreateCommand();
                record.Transaction = dbTransaction;
                record.CommandText = "INSERT INTO schema_migrations (version, name) VALUES (@version, @name)";
                SqlDialect.Add(record, "version", version);
                SqlDialect.Add(record, "name", name);
                await record.ExecuteNonQueryAsync(cancellationToken);
            }
            await dbTransaction.CommitAsync(cancellationToken);
        }
    }

    private static async Task<bool> IsAppliedAsync(DbConnection connection, DbTransaction dbTransaction, int version,
        CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = dbTransaction;
        command.CommandText = "SELECT COUNT(*) FROM schema_migrations WHERE version = @version";
        SqlDialect.Add(command, "version", version);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture) > 0;
    }

    private static async Task ExecuteAsync(DbConnection connection, DbTransaction dbTransaction, string sql,
        CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = dbTransaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static IEnumerable<(int Version, string Name, string Sql)> Scripts(string dialect)
    {
        var assembly = typeof(Migrator).Assembly;
        var prefix = $"{assembly.GetName().Name}.Migrations.{char.ToUpperInvariant(dialect[0])}{dialect[1..]}.";
        return assembly.GetManifestResourceNames()
            .Where(resource => resource.StartsWith(prefix, StringComparison.Ordinal))
            .Select(resource => Load(assembly, resource, resource[prefix.Length..]))
            .OrderBy(script => script.Version);
    }

    private static (int Version, string Name, string Sql) Load(Assembly assembly, string resource, string fileName)
    {
        using var stream = assembly.GetManifestResourceStream(resource)!;
        using var reader = new StreamReader(stream);
        var version = int.Parse(fileName[..fileName.IndexOf('_', StringComparison.Ordinal)],
            CultureInfo.InvariantCulture);
        return (version, fileName, reader.ReadToEnd());
    }
}
