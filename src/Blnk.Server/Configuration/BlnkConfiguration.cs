using System.Collections;
using System.Globalization;
using System.Net;
using System.Text.Json;

namespace Blnk.Server.Configuration;

/// <summary>A configuration value that cannot be used; the message names the key.</summary>
public sealed class ConfigurationException(string message) : Exception(message);

/// <summary>
/// Blnk's configuration: <c>blnk.json</c> in the working directory, then <c>BLNK_*</c> environment
/// variables over it (contract §12). Keys that only concern Redis, asynq or Typesense are accepted
/// and ignored (decision 1).
/// </summary>
public sealed record BlnkConfiguration
{
    public const int DefaultPort = 5001;
    public const int DefaultMaxRequestBodySizeMb = 5;
    public const int DefaultWriterBatchSize = 4000;
    public const int DefaultWriterQueueSize = 10_000;
    public const int DefaultWriterLoops = 1;
    public const int DefaultRememberedBalances = 20_000;

    public int Port { get; init; } = DefaultPort;

    /// <summary>The address to listen on; null means loopback in insecure mode, every interface in secure mode.</summary>
    public IPAddress? Host { get; init; }
    public bool HostIsLocalhost { get; init; }
    public bool Secure { get; init; }
    public string? SecretKey { get; init; }
    public string? DataSourceDns { get; init; }
    public int MaxRequestBodySizeMb { get; init; } = DefaultMaxRequestBodySizeMb;
    public int WriterBatchSize { get; init; } = DefaultWriterBatchSize;
    public int WriterQueueSize { get; init; } = DefaultWriterQueueSize;

    /// <summary>Writer batches in flight at once on PostgreSQL (SQLite always uses one).</summary>
    public int WriterLoops { get; init; } = DefaultWriterLoops;

    /// <summary>Balances the writer remembers to decide plain transfers without a locking read (0: none).</summary>
    public int RememberedBalances { get; init; } = DefaultRememberedBalances;
    public IReadOnlyList<string> IgnoredKeys { get; init; } = [];
    public WebhookSettings Webhook { get; init; } = new();

    private static readonly (string Key, string Env)[] IgnoredSettings =
    [
        ("redis.dns", "BLNK_REDIS_DNS"),
        ("typesense.dns", "BLNK_TYPESENSE_DNS"),
        ("queue.number_of_queues", "BLNK_QUEUE_NUMBER_OF_QUEUES"),
    ];

    /// <exception cref="ConfigurationException">A value is malformed; the message names its key.</exception>
    public static BlnkConfiguration Load(string workingDirectory, IDictionary environment)
    {
        var file = ReadFile(Path.Combine(workingDirectory, "blnk.json"));
        string? Value(string key, string env) => environment[env] as string ?? file.GetValueOrDefault(key);

        var secure = ParseBool("server.secure", Value("server.secure", "BLNK_SERVER_SECURE")) ?? false;
        var secretKey = Value("server.secret_key", "BLNK_SERVER_SECRET_KEY");
        if (secure && string.IsNullOrEmpty(secretKey))
        {
            throw new ConfigurationException(
                "server.secret_key (BLNK_SERVER_SECRET_KEY) is required when server.secure is true");
        }
        var host = Value("server.host", "BLNK_SERVER_HOST");
        return new BlnkConfiguration
        {
            Port = ParseInt("server.port", Value("server.port", "BLNK_SERVER_PORT"), 1, 65535) ?? DefaultPort,
            Host = ParseHost(host),
            HostIsLocalhost = string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase),
            Secure = secure,
            SecretKey = secretKey,
            DataSourceDns = Value("data_source.dns", "BLNK_DATA_SOURCE_DNS"),
            MaxRequestBodySizeMb = ParseInt("server.max_request_body_size_mb",
                Value("server.max_request_body_size_mb", "BLNK_SERVER_MAX_REQUEST_BODY_SIZE_MB"), 1, 1024)
                ?? DefaultMaxRequestBodySizeMb,
            WriterBatchSize = ParseInt("transaction.batch_size",
                Value("transaction.batch_size", "BLNK_TRANSACTION_BATCH_SIZE"), 1, 10_000) ?? DefaultWriterBatchSize,
            WriterQueueSize = ParseInt("transaction.max_queue_size",
                Value("transaction.max_queue_size", "BLNK_TRANSACTION_MAX_QUEUE_SIZE"), 1, 1_000_000)
                ?? DefaultWriterQueueSize,
            WriterLoops = ParseInt("transaction.writer_loops",
                Value("transaction.writer_loops", "BLNK_TRANSACTION_WRITER_LOOPS"), 1, 16) ?? DefaultWriterLoops,
            RememberedBalances = ParseInt("transaction.remembered_balances",
                Value("transaction.remembered_balances", "BLNK_TRANSACTION_REMEMBERED_BALANCES"), 0, 10_000_000)
                ?? DefaultRememberedBalances,
            Webhook = LoadWebhook(file, Value),
            IgnoredKeys = [.. IgnoredSettings.Where(setting => Value(setting.Key, setting.Env) is not null)
                .Select(setting => setting.Key)],
        };
    }

    private static WebhookSettings LoadWebhook(Dictionary<string, string> file, Func<string, string, string?> value)
    {
        const string prefix = "notification.webhook.";
        var headers = file.Where(entry => entry.Key.StartsWith(prefix + "headers.", StringComparison.Ordinal))
            .ToDictionary(entry => entry.Key[(prefix.Length + "headers.".Length)..], entry => entry.Value,
                StringComparer.OrdinalIgnoreCase);
        foreach (var (name, headerValue) in ParseHeaderList(value(prefix + "headers", "BLNK_WEBHOOK_HEADERS")))
        {
            headers[name] = headerValue;
        }
        var defaults = new WebhookSettings();
        return new WebhookSettings
        {
            Url = value(prefix + "url", "BLNK_WEBHOOK_URL") is { Length: > 0 } url ? ParseUrl(prefix + "url", url) : null,
            Headers = headers,
            MaxAttempts = ParseInt(prefix + "max_attempts", value(prefix + "max_attempts", "BLNK_WEBHOOK_MAX_ATTEMPTS"),
                1, 1000) ?? defaults.MaxAttempts,
            RetryBase = Milliseconds(prefix + "retry_base_ms", "BLNK_WEBHOOK_RETRY_BASE_MS") ?? defaults.RetryBase,
            RetryMax = Milliseconds(prefix + "retry_max_ms", "BLNK_WEBHOOK_RETRY_MAX_MS") ?? defaults.RetryMax,
            Timeout = Milliseconds(prefix + "timeout_ms", "BLNK_WEBHOOK_TIMEOUT_MS") ?? defaults.Timeout,
            Retention = ParseInt(prefix + "retention_days",
                value(prefix + "retention_days", "BLNK_WEBHOOK_RETENTION_DAYS"), 1, 3650) is { } days
                ? TimeSpan.FromDays(days)
                : defaults.Retention,
        };

        TimeSpan? Milliseconds(string key, string env) =>
            ParseInt(key, value(key, env), 1, 86_400_000) is { } ms ? TimeSpan.FromMilliseconds(ms) : null;
    }

    /// <summary><c>BLNK_WEBHOOK_HEADERS</c> is <c>Name:value,Name2:value2</c> (envconfig's map format).</summary>
    private static IEnumerable<(string Name, string Value)> ParseHeaderList(string? text)
    {
        foreach (var pair in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = pair.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                throw new ConfigurationException(
                    $"BLNK_WEBHOOK_HEADERS must be Name:value pairs separated by commas, got '{pair}'");
            }
            yield return (pair[..colon].Trim(), pair[(colon + 1)..].Trim());
        }
    }

    private static Uri ParseUrl(string key, string text) =>
        Http.CallableUrl.Problem(text) is { } problem
            ? throw new ConfigurationException($"{key} {problem}, got '{text}'")
            : new Uri(text, UriKind.Absolute);

    private static Dictionary<string, string> ReadFile(string path)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!File.Exists(path))
        {
            return values;
        }
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            Flatten(document.RootElement, "", values);
        }
        catch (JsonException exception)
        {
            throw new ConfigurationException($"blnk.json is not valid JSON: {exception.Message}");
        }
        return values;
    }

    private static void Flatten(JsonElement element, string prefix, Dictionary<string, string> values)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject())
            {
                Flatten(property.Value, prefix.Length == 0 ? property.Name : $"{prefix}.{property.Name}", values);
            }
            return;
        }
        if (element.ValueKind is JsonValueKind.String)
        {
            values[prefix] = element.GetString()!;
        }
        else if (element.ValueKind is JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False)
        {
            values[prefix] = element.GetRawText();
        }
    }

    private static int? ParseInt(string key, string? text, int min, int max)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value)
            || value < min || value > max)
        {
            throw new ConfigurationException($"{key} must be a whole number from {min} to {max}, got '{text}'");
        }
        return value;
    }

    private static bool? ParseBool(string key, string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }
        return bool.TryParse(text, out var value)
            ? value
            : throw new ConfigurationException($"{key} must be true or false, got '{text}'");
    }

    private static IPAddress? ParseHost(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }
        if (string.Equals(text, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return IPAddress.Loopback;
        }
        return IPAddress.TryParse(text, out var address)
            ? address
            : throw new ConfigurationException($"server.host must be an IP address or 'localhost', got '{text}'");
    }
}

/// <summary>
/// The global webhook (<c>notification.webhook.*</c>, §8.1) and how deliveries are retried: the delay
/// doubles from <see cref="RetryBase"/> up to <see cref="RetryMax"/>, for at most <see cref="MaxAttempts"/> attempts.
/// </summary>
public sealed record WebhookSettings
{
    public Uri? Url { get; init; }
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();
    public int MaxAttempts { get; init; } = 25;
    public TimeSpan RetryBase { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan RetryMax { get; init; } = TimeSpan.FromMinutes(5);
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long finished deliveries (delivered or given up) and their attempts are kept.</summary>
    public TimeSpan Retention { get; init; } = TimeSpan.FromDays(7);
}
