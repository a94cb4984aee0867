namespace Blnk.Core.Hooks;

/// <summary>The two kinds of transaction hook (contract §4.9).</summary>
public static class HookType
{
    public const string PreTransaction = "PRE_TRANSACTION";
    public const string PostTransaction = "POST_TRANSACTION";
}

/// <summary>A registered transaction hook: <see cref="Url"/> is called before or after transactions are applied.</summary>
public sealed record Hook
{
    public required string HookId { get; init; }
    public string Name { get; init; } = "";
    public required string Url { get; init; }
    public required string Type { get; init; }
    public bool Active { get; init; }
    public int TimeoutSeconds { get; init; }
    public int RetryCount { get; init; }
    public required DateTime CreatedAt { get; init; }
    public DateTime? LastRun { get; init; }
    public bool LastSuccess { get; init; }
}

/// <summary>§4.9 defaults and limits for a hook's timeout (seconds) and retries.</summary>
public static class HookDefaults
{
    public const int TimeoutSeconds = 30;
    public const int RetryCount = 3;
    public const int RetryCountMax = 10;

    /// <summary>Our cap on a hook's timeout, so one slow hook cannot hold a delivery lease for long.</summary>
    public const int TimeoutMaxSeconds = 300;
}
