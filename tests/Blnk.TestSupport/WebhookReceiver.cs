using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Blnk.TestSupport;

/// <summary>One HTTP request the receiver got: the headers as sent and the raw body.</summary>
public sealed record ReceivedRequest(string Path, IReadOnlyDictionary<string, string> Headers, string Body,
    int AnsweredStatus)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;

    /// <summary>The <c>event</c> of a webhook body.</summary>
    public string Event => Json.GetProperty("event").GetString()!;

    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;
}

/// <summary>
/// A real HTTP server on a loopback port that records every request, for webhook and hook tests. It can be
/// taken down (connections are refused) and brought back on the same port, and told how to answer.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly ConcurrentQueue<ReceivedRequest> _received = new();
    private readonly LoopbackPortHold _port;
    private HttpListener? _listener;
    private Task? _loop;

    private WebhookReceiver(LoopbackPortHold port)
    {
        _port = port;
    }

    /// <summary>The receiver's port, held from <see cref="Start"/> to dispose, whether up or down.</summary>
    public int Port => _port.Port;

    public string Url => $"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}/";

    /// <summary>Chooses the answer (status and body) to each request; 200 with an empty body by default.</summary>
    public Func<string, string, (int Status, string Body)> Answer { get; set; } = (_, _) => (200, "");

    /// <summary>
    /// When set, every answer is 200 with a body that does not end: a 16 KiB chunk every 10 ms until the caller
    /// hangs up (or a minute passes).
    /// </summary>
    public bool AnswersEndlessly { get; set; }

    /// <summary>Every request answered so far, in arrival order (including those answered with an error).</summary>
    public IReadOnlyList<ReceivedRequest> Received => [.. _received];

    /// <summary>Requests answered with 2xx.</summary>
    public IReadOnlyList<ReceivedRequest> Accepted => [.. _received.Where(request => request.AnsweredStatus is >= 200 and < 300)];

    public static WebhookReceiver Start()
    {
        var receiver = new WebhookReceiver(LoopbackPortHold.Take());
        try
        {
            receiver.Up();
        }
        catch
        {
            // Nothing listens yet: only the port's hold is left to let go.
            receiver._port.Dispose();
            throw;
        }
        return receiver;
    }

    /// <summary>Starts listening (again) on the same port.</summary>
    public void Up()
    {
        if (_listener is not null)
        {
            return;
        }
        var listener = new HttpListener();
        listener.Prefixes.Add(Url);
        listener.Start();
        _listener = listener;
        _loop = Task.Run(() => ServeAsync(listener));
    }

    /// <summary>Stops listening: the server's deliveries fail with a refused connection until <see cref="Up"/>.</summary>
    public async Task DownAsync()
    {
        if (_listener is not { } listener)
        {
            return;
        }
        _listener = null;
        listener.Stop();
        listener.Close();
        await _loop!;
    }

    /// <summary>Waits until the accepted requests satisfy <paramref name="done"/>, or fails after the timeout.</summary>
    public async Task<IReadOnlyList<ReceivedRequest>> WaitForAsync(Func<IReadOnlyList<ReceivedRequest>, bool> done,
        TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var accepted = Accepted;
            if (done(accepted))
            {
                return accepted;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"webhook receiver: {what} not seen within {timeout}; got " +
                    string.Join(", ", accepted.Select(request => request.Body.Length > 80 ? request.Body[..80] : request.Body)));
            }
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await DownAsync();
        _port.Dispose();
    }

    private async Task ServeAsync(HttpListener listener)
    {
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception exception) when (exception is HttpListenerException or ObjectDisposedException
                or InvalidOperationException)
            {
                return;
            }
            await HandleAsync(context);
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
        var body = await reader.ReadToEndAsync();
        var headers = context.Request.Headers.AllKeys.OfType<string>()
            .ToDictionary(name => name, name => context.Request.Headers[name] ?? "", StringComparer.OrdinalIgnoreCase);
        var path = context.Request.Url?.AbsolutePath ?? "/";
        if (AnswersEndlessly)
        {
            _received.Enqueue(new ReceivedRequest(path, headers, body, 200));
            // Served beside the loop, so one caller that never hangs up cannot stop the others' answers.
            _ = Task.Run(() => AnswerEndlesslyAsync(context));
            return;
        }
        var (status, answer) = Answer(path, body);
        _received.Enqueue(new ReceivedRequest(path, headers, body, status));
        context.Response.StatusCode = status;
        var bytes = Encoding.UTF8.GetBytes(answer);
        context.Response.ContentLength64 = bytes.Length;
        await context.Response.OutputStream.WriteAsync(bytes);
        context.Response.Close();
    }

    private static async Task AnswerEndlesslyAsync(HttpListenerContext context)
    {
        context.Response.StatusCode = 200;
        context.Response.SendChunked = true;
        var chunk = Encoding.UTF8.GetBytes(new string(' ', 16 * 1024));
        var giveUpAt = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        try
        {
            while (DateTime.UtcNow < giveUpAt)
            {
                await context.Response.OutputStream.WriteAsync(chunk);
                await context.Response.OutputStream.FlushAsync();
                await Task.Delay(10);
            }
        }
        catch (Exception exception) when (exception is HttpListenerException or IOException or ObjectDisposedException)
        {
            // The caller hung up: what an endless answer waits for.
        }
        finally
        {
            context.Response.Abort();
        }
    }
}
