using Blnk.Storage.Postgres;
using Blnk.Storage.Sqlite;

namespace Blnk.Storage;

/// <summary>Chooses the dialect from Blnk's <c>data_source.dns</c>.</summary>
public static class LedgerStoreFactory
{
    public const string DefaultSqlitePath = "./data/blnk.db";

    /// <summary>
    /// Empty → the SQLite file <see cref="DefaultSqlitePath"/>; <c>postgres://…</c> or <c>postgresql://…</c>
    /// (as Blnk users write it) or an Npgsql key=value string → PostgreSQL; <c>sqlite:PATH</c> or a path
    /// ending in <c>.db</c> → that SQLite file.
    /// </summary>
    /// <exception cref="ArgumentException">The value names neither database.</exception>
    public static SqlLedgerStore Create(string? dataSourceDns)
    {
        var dns = dataSourceDns?.Trim() ?? "";
        if (dns.Length == 0)
        {
            return new SqlLedgerStore(new SqliteDialect(DefaultSqlitePath));
        }
        if (dns.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
        {
            return new SqlLedgerStore(new SqliteDialect(dns["sqlite:".Length..]));
        }
        if (dns.EndsWith(".db", StringComparison.OrdinalIgnoreCase) && !dns.Contains("://", StringComparison.Ordinal))
        {
            return new SqlLedgerStore(new SqliteDialect(dns));
        }
        return new PostgresLedgerStore(PostgresConnectionString.Parse(dns));
    }
}
