using Npgsql;

namespace Blnk.Storage.Postgres;

/// <summary>Turns Blnk's <c>postgres://user:pass@host:port/db?sslmode=disable</c> into an Npgsql connection string.</summary>
public static class PostgresConnectionString
{
    public const string WriterPlannerOptions =
        "-c enable_seqscan=off -c enable_hashjoin=off -c enable_mergejoin=off -c jit=off";

    /// <exception cref="ArgumentException">Not a PostgreSQL URL nor an Npgsql connection string.</exception>
    public static string Parse(string dns)
    {
        if (!dns.Contains("://", StringComparison.Ordinal))
        {
            return WithSchema(new NpgsqlConnectionStringBuilder(dns));
        }
        if (!Uri.TryCreate(dns, UriKind.Absolute, out var uri) || uri.Scheme is not ("postgres" or "postgresql"))
        {
            throw new ArgumentException($"unsupported data source '{Redact(dns)}': use postgres://user:password@host:port/db");
        }
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = uri.AbsolutePath.TrimStart('/'),
        };
        var credentials = uri.UserInfo.Split(':', 2);
        builder.Username = Uri.UnescapeDataString(credentials[0]);
        if (credentials.Length > 1)
        {
            builder.Password = Uri.UnescapeDataString(credentials[1]);
        }
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = pair.Split('=', 2);
            if (parts[0] == "sslmode" && parts.Length == 2)
            {
                builder.SslMode = Enum.Parse<SslMode>(parts[1].Replace("-", "", StringComparison.Ordinal), true);
            }
        }
        return WithSchema(builder);
    }

    /// <summary>
    /// The writer's connections: every statement of a batch looks rows up or changes them by key, a few hundred
    /// keys at a time. With PostgreSQL's default costs and a table that fits in memory, the planner turned those
    /// lookups into sequential scans with hash joins once <c>balances</c> held some ten thousand rows (measured:
    /// 6–9 ms per statement for 200 keys instead of 1–2 ms, and growing with the table), so these sessions plan
    /// with index lookups and nested loops only. JIT is off because a disabled plan type's cost penalty would
    /// otherwise cross the JIT threshold and compile a statement for ~200 ms.
    /// </summary>
    /// <remarks>
    /// The pool holds at most <see cref="WriterPoolSize"/> connections: one per writer loop (at most 16) and a few
    /// for batches opened outside the loops, so the writer adds little to the server's connection count.
    /// </remarks>
    public static string ForWriter(string connectionString) =>
        WithSessionOptions(connectionString, WriterPlannerOptions, WriterPoolSize);

    public const int WriterPoolSize = 20;

    /// <summary>
    /// Sessions for the prepared key lookups every inflight request makes: the writer's planner options, no
    /// parallel workers, and one generic plan per statement. PostgreSQL's default plan choice kept re-planning
    /// them on every call (planning cost twice their execution: docs/performance.md). A generic plan is made
    /// without the id, from statistics that may see nearly every <c>parent_transaction</c> empty and so expect
    /// most of the table: the options, and statements written with no join or order to choose, leave it only
    /// the index lookups (and no parallel workers to start for them).
    /// </summary>
    public const string LookupPlannerOptions = WriterPlannerOptions +
        " -c max_parallel_workers_per_gather=0 -c plan_cache_mode=force_generic_plan";

    /// <summary>
    /// The lookups' own pool. Each lookup is one short statement, so a few connections serve many requests, and
    /// fewer backends switch less: on 2 cores, W7 ran 8–10% faster with 4 than with 16 (docs/performance.md).
    /// </summary>
    public static string ForLookups(string connectionString) =>
        WithSessionOptions(connectionString, LookupPlannerOptions, LookupPoolSize);

    public static readonly int LookupPoolSize = Math.Max(4, 2 * Environment.ProcessorCount);

    /// <summary>A pool of its own: the caller's options kept, <paramref name="options"/> added, at most <paramref name="poolSize"/> connections.</summary>
    private static string WithSessionOptions(string connectionString, string options, int poolSize)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        builder.Options = $"{builder.Options} {options}".Trim();
        builder.MaxPoolSize = poolSize;
        return builder.ToString();
    }

    private static string WithSchema(NpgsqlConnectionStringBuilder builder)
    {
        builder.SearchPath = PostgresDialect.SchemaName;
        builder.MaxPoolSize = Math.Max(builder.MaxPoolSize, 50);
        // Skip the DISCARD ALL a pooled connection would otherwise run when it returns to the pool: the server
        // sets no session state that could leak between requests. (Automatic statement preparation was tried
        // and removed: a command reused with cleared parameters then re-sent its first row's values.)
        builder.NoResetOnClose = true;
        return builder.ToString();
    }

    private static string Redact(string dns)
    {
        var at = dns.IndexOf('@', StringComparison.Ordinal);
        return at < 0 ? dns : "…" + dns[at..];
    }
}
