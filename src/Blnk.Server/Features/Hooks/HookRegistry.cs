using Blnk.Core.Hooks;
using Blnk.Storage;

namespace Blnk.Server.Features.Hooks;

/// <summary>The registered transaction hooks, for the writer (which calls to record) and the dispatcher.</summary>
public sealed class HookRegistry(ILedgerStore store, ILogger<HookRegistry> logger) : ReloadingRegistry(logger)
{
    private volatile IReadOnlyList<Hook> _active = [];
    private volatile Dictionary<string, Hook> _byId = new(StringComparer.Ordinal);

    /// <summary>Active hooks of the given type, oldest first.</summary>
    public IEnumerable<Hook> Active(string type) => _active.Where(hook => hook.Type == type);

    /// <summary>True when any hook is active: the writer's cheap check before building hook calls.</summary>
    public bool Any => _active.Count > 0;

    /// <summary>The longest timeout of any registered hook (zero when there are none).</summary>
    public TimeSpan LongestTimeout { get; private set; }

    /// <summary>A hook by id, active or not; null when it was deleted.</summary>
    public Hook? Find(string hookId) => _byId.GetValueOrDefault(hookId);

    protected override async Task LoadAsync(CancellationToken cancellationToken)
    {
        var hooks = await store.ListHooksAsync(null, cancellationToken);
        _byId = hooks.ToDictionary(hook => hook.HookId, StringComparer.Ordinal);
        _active = [.. hooks.Where(hook => hook.Active)];
        LongestTimeout = TimeSpan.FromSeconds(hooks.Select(hook => hook.TimeoutSeconds).DefaultIfEmpty(0).Max());
    }
}
