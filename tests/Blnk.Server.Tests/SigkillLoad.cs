using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Blnk.TestSupport;

namespace Blnk.Server.Tests;

/// <summary>Load that a SIGKILL cuts off: which requests were acknowledged before the server died.</summary>
public static class SigkillLoad
{
    private const int Workers = 32;

    /// <summary>
    /// Runs <paramref name="send"/> from 32 workers (each with its own seeded random and a unique reference),
    /// kills the server after <paramref name="loadFor"/> once a request got its 201, and returns the references
    /// that got one.
    /// </summary>
    public static async Task<IReadOnlyCollection<string>> RunAsync(ServerProcess server, TimeSpan loadFor,
        Func<Random, string, Task<ApiResponse>> send)
    {
        var acknowledged = new ConcurrentBag<string>();
        using var stop = new CancellationTokenSource();
        var load = Enumerable.Range(0, Workers).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker);
            while (!stop.IsCancellationRequested)
            {
                var reference = $"kill-{worker}-{Guid.NewGuid()}";
                try
                {
                    if ((await send(random, reference)).Status == HttpStatusCode.Created)
                    {
                        acknowledged.Add(reference);
                    }
                }
                catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
                {
                    return;
                }
            }
        })).ToList();
        await Task.Delay(loadFor);
        // A busy machine (the whole suite at once) may not answer one request within loadFor: the kill must still
        // cut off load that has acknowledged something.
        var patience = Stopwatch.StartNew();
        while (acknowledged.IsEmpty && patience.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(50);
        }
        server.Kill();
        await stop.CancelAsync();
        await Task.WhenAll(load);
        return acknowledged;
    }
}
