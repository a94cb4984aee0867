using Blnk.Core.Hooks;
using Blnk.Server.Http;
using Blnk.Server.Json;

namespace Blnk.Server.Features.Hooks;

/// <summary>A hook request that passed validation, with Blnk's defaults and cap applied.</summary>
public sealed record ValidHook(string Name, string Url, string Type, bool Active, int TimeoutSeconds, int RetryCount)
{
    /// <summary>A new hook with these settings (it has not run yet).</summary>
    public Hook ToHook(string hookId, DateTime createdAt) =>
        ApplyTo(new Hook { HookId = hookId, Url = Url, Type = Type, CreatedAt = createdAt });

    /// <summary><paramref name="hook"/> with these settings; its id, creation time and last run stay.</summary>
    public Hook ApplyTo(Hook hook) => hook with
    {
        Name = Name,
        Url = Url,
        Type = Type,
        Active = Active,
        TimeoutSeconds = TimeoutSeconds,
        RetryCount = RetryCount,
    };
}

/// <summary>
/// Blnk's hook validation (contract §4.9): <c>url</c> required, <c>type</c> one of the two; a timeout of 0 or
/// less becomes 30 s, a negative retry count 3, and more than 10 retries are cut to 10.
/// </summary>
/// <remarks>
/// Beyond Blnk, the URL must be an absolute http(s) URL: the server calls it, and a relative or mistyped URL
/// could never succeed; and a timeout above 300 s is cut to 300 s, so one slow hook cannot hold its delivery
/// (and, after a crash, its retry) for longer.
/// </remarks>
public static class HookValidator
{
    public static readonly IReadOnlyList<string> Types = [HookType.PreTransaction, HookType.PostTransaction];

    /// <summary>The hook, or the first reason it is refused (Blnk's texts).</summary>
    public static (ValidHook? Value, string? Error) Validate(HookRequest request)
    {
        if (string.IsNullOrEmpty(request.Url))
        {
            return (null, "hook URL is required");
        }
        if (CallableUrl.Problem(request.Url) is { } problem)
        {
            return (null, $"hook URL {problem}");
        }
        if (!IsType(request.Type))
        {
            return (null, $"invalid hook type: {request.Type}");
        }
        var timeoutSeconds = request.Timeout <= 0
            ? HookDefaults.TimeoutSeconds
            : Math.Min(request.Timeout, HookDefaults.TimeoutMaxSeconds);
        var retryCount = request.RetryCount < 0
            ? HookDefaults.RetryCount
            : Math.Min(request.RetryCount, HookDefaults.RetryCountMax);
        return (new ValidHook(request.Name ?? "", request.Url, request.Type!, request.Active, timeoutSeconds,
            retryCount), null);
    }

    public static bool IsType(string? type) => type is not null && Types.Contains(type);
}
