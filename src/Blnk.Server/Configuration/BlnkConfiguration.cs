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
    public const int DefaultWriterBatchSize = 1000;
    public const int DefaultWriterQueueSize = 10_000;

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
    public IReadOnlyList<string> IgnoredKeys { get; init; } = [];

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
            IgnoredKeys = [.. IgnoredSettings.Where(setting => Value(setting.Key, setting.Env) is not null)
                .Select(setting => setting.Key)],
        };
    }

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
