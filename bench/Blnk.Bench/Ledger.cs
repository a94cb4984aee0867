using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Numerics;
using System.Text;
using System.Text.Json;

namespace Blnk.Bench;

/// <summary>A response: status (0 when no response came back: a transport error or timeout) and raw body.</summary>
internal readonly record struct Reply(int Status, byte[] Body, string? Error = null)
{
    public string Text => Error ?? Encoding.UTF8.GetString(Body);
}

/// <summary>
/// One balance as read back for verification, amounts exact from the raw JSON number text; the inflight sums are
/// null when the answer lacks them (so a missing field cannot pass for zero).
/// </summary>
internal sealed record BalanceState(string Id, BigInteger Balance, BigInteger Credit, BigInteger Debit,
    BigInteger QueuedDebit, BigInteger QueuedCredit, BigInteger? InflightDebit, BigInteger? InflightCredit);

/// <summary>
/// The few calls the benchmark makes. Request bodies are string templates turned into bytes — no reflection
/// JSON on the hot path; responses are only parsed (with <see cref="JsonDocument"/>) outside it.
/// </summary>
internal sealed class Ledger : IDisposable
{
    private static readonly Uri TransactionsUri = new("/transactions", UriKind.Relative);
    private static readonly Uri BulkUri = new("/transactions/bulk", UriKind.Relative);
    private static readonly MediaTypeHeaderValue Json = new("application/json");
    private readonly HttpClient _http;

    public Ledger(Uri baseAddress, int connections)
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            UseProxy = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        _http = new HttpClient(handler, disposeHandler: true)
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromSeconds(120),
            DefaultRequestVersion = HttpVersion.Version11,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
    }

    public void Dispose() => _http.Dispose();

    public Task<Reply> PostTransferAsync(byte[] body) => SendAsync(HttpMethod.Post, TransactionsUri, body);

    public Task<Reply> PostBulkAsync(byte[] body) => SendAsync(HttpMethod.Post, BulkUri, body);

    public Task<Reply> PutAsync(string path, byte[] body) =>
        SendAsync(HttpMethod.Put, new Uri(path, UriKind.Relative), body);

    public Task<Reply> PostAsync(string path, string body) =>
        SendAsync(HttpMethod.Post, new Uri(path, UriKind.Relative), Encoding.UTF8.GetBytes(body));

    public Task<Reply> GetAsync(string path) => SendAsync(HttpMethod.Get, new Uri(path, UriKind.Relative), null);

    private async Task<Reply> SendAsync(HttpMethod method, Uri uri, byte[]? body)
    {
        try
        {
            using var request = new HttpRequestMessage(method, uri);
            if (body is not null)
            {
                request.Content = new ByteArrayContent(body);
                request.Content.Headers.ContentType = Json;
            }
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead);
            return new Reply((int)response.StatusCode, await response.Content.ReadAsByteArrayAsync());
        }
        // A connection opened just as the server dies can surface as a bare SocketException (from the pool's
        // RemoteEndPoint), not wrapped in HttpRequestException: it is "no answer" as well.
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException
                                              or IOException or SocketException)
        {
            return new Reply(0, [], $"{exception.GetType().Name}: {exception.Message}");
        }
    }

    /// <summary>
    /// A transfer body in the shape Blnk's SDKs send: a decimal <c>amount</c> with <c>precision</c> 100;
    /// <paramref name="inflight"/> makes it a hold.
    /// </summary>
    public static byte[] TransferBody(long cents, string currency, string reference, string source,
        string destination, bool allowOverdraft, bool skipQueue, bool inflight = false) =>
        Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"{{\"amount\":{AmountText(cents)},\"precision\":100,\"currency\":\"{currency}\",\"reference\":\"{reference}\",\"description\":\"bench\",\"source\":\"{source}\",\"destination\":\"{destination}\",\"allow_overdraft\":{(allowOverdraft ? "true" : "false")}{(inflight ? ",\"inflight\":true" : "")},\"skip_queue\":{(skipQueue ? "true" : "false")}}}"));

    /// <summary>The body of <c>PUT /transactions/inflight/{id}</c> that commits the whole hold now.</summary>
    public static readonly byte[] CommitBody = """{"status":"commit","skip_queue":true}"""u8.ToArray();

    /// <summary>A commit on Blnk 0.15's default, queued path (<c>--commits queued</c>).</summary>
    public static readonly byte[] QueuedCommitBody = """{"status":"commit"}"""u8.ToArray();

    /// <summary>
    /// A <c>POST /transactions/bulk</c> body, <c>{"transactions":[…],"skip_queue":true}</c>, written with
    /// <see cref="Utf8JsonWriter"/>: each line an integer <c>precise_amount</c> with <c>precision</c> 100, the
    /// currency, its own reference, a description, source and destination, no overdraft.
    /// </summary>
    public static byte[] BulkBody(string currency, ReadOnlySpan<Ack> lines, string[] ids)
    {
        var buffer = new ArrayBufferWriter<byte>(lines.Length * 240 + 64);
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true }))
        {
            json.WriteStartObject();
            json.WriteStartArray("transactions"u8);
            foreach (var line in lines)
            {
                json.WriteStartObject();
                json.WriteNumber("precise_amount"u8, line.Cents);
                json.WriteNumber("precision"u8, 100);
                json.WriteString("currency"u8, currency);
                json.WriteString("reference"u8, line.Reference);
                json.WriteString("description"u8, "bench bulk"u8);
                json.WriteString("source"u8, ids[line.Source]);
                json.WriteString("destination"u8, ids[line.Destination]);
                json.WriteBoolean("allow_overdraft"u8, false);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteBoolean("skip_queue"u8, true);
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Top-level fields of a JSON object answer, read with <see cref="Utf8JsonReader"/> (cheap enough for the hot
    /// path): strings as their value, numbers as their raw text, booleans as "true" or "false", anything else or
    /// absent as null; all null when the body is not a JSON object.
    /// </summary>
    public static string?[] Fields(byte[] body, params ReadOnlySpan<string> names)
    {
        var values = new string?[names.Length];
        try
        {
            var reader = new Utf8JsonReader(body);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return values;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var index = -1;
                for (var i = 0; i < names.Length && index < 0; i++)
                {
                    if (reader.ValueTextEquals(names[i]))
                    {
                        index = i;
                    }
                }
                reader.Read();
                if (index >= 0 && reader.TokenType == JsonTokenType.String)
                {
                    values[index] = reader.GetString();
                }
                else if (index >= 0 && reader.TokenType == JsonTokenType.Number)
                {
                    values[index] = Encoding.UTF8.GetString(reader.ValueSpan);
                }
                else if (index >= 0 && reader.TokenType is JsonTokenType.True or JsonTokenType.False)
                {
                    values[index] = reader.GetBoolean() ? "true" : "false";
                }
                reader.Skip();
            }
        }
        catch (JsonException)
        {
            Array.Clear(values);
        }
        return values;
    }

    /// <summary>Minor units (precision 100) as the decimal text a client would send: 1234 → 12.34.</summary>
    public static string AmountText(long cents) => cents % 100 == 0
        ? (cents / 100).ToString(CultureInfo.InvariantCulture)
        : string.Create(CultureInfo.InvariantCulture, $"{cents / 100}.{cents % 100:D2}");

    public async Task<string> CreateBalanceAsync(string currency)
    {
        var reply = await PostAsync("/balances",
            $"{{\"ledger_id\":\"general_ledger_id\",\"currency\":\"{currency}\"}}");
        if (reply.Status != 201)
        {
            throw new BenchException($"POST /balances ({currency}) answered {reply.Status}: {reply.Text}");
        }
        using var document = JsonDocument.Parse(reply.Body);
        return document.RootElement.GetProperty("balance_id").GetString()
               ?? throw new BenchException("POST /balances answered no balance_id");
    }

    public async Task<BalanceState> GetBalanceAsync(string path)
    {
        var reply = await GetAsync(path);
        if (reply.Status != 200)
        {
            throw new BenchException($"GET {path} answered {reply.Status}: {reply.Text}");
        }
        using var document = JsonDocument.Parse(reply.Body);
        var root = document.RootElement;
        return new BalanceState(root.GetProperty("balance_id").GetString() ?? "", Number(root, "balance"),
            Number(root, "credit_balance"), Number(root, "debit_balance"), Number(root, "queued_debit_balance"),
            Number(root, "queued_credit_balance"),
            root.TryGetProperty("inflight_debit_balance", out _) ? Number(root, "inflight_debit_balance") : null,
            root.TryGetProperty("inflight_credit_balance", out _) ? Number(root, "inflight_credit_balance") : null);
    }

    /// <summary>An integer field from its raw JSON text (never through a double); absent fields read as 0.</summary>
    public static BigInteger Number(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value)
            ? BigInteger.Parse(value.GetRawText(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture)
            : BigInteger.Zero;
}

/// <summary>The benchmark cannot go on (setup refused, server unreachable).</summary>
internal sealed class BenchException(string message) : Exception(message);
