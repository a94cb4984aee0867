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
