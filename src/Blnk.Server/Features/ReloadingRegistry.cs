namespace Blnk.Server.Features;

/// <summary>
/// An in-memory copy of a small table the writer consults on every batch (monitors, hooks), so the writer
/// never reads it from the database. Loaded before the server starts, reloaded every second (changes made by
/// another process are seen within that) and at once after a change made here (<see cref="RefreshAsync"/>).
/// </summary>
public abstract class ReloadingRegistry(ILogger logger) : BackgroundService
{
    private static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(1);

    // One reload at a time: otherwise a periodic read that started before a change committed could finish after
    // the reload that change asked for, and put the old rows back.
    private readonly SemaphoreSlim _reloading = new(1, 1);

    /// <summary>Reads the whole table and replaces the in-memory copy.</summary>
    protected abstract Task LoadAsync(CancellationToken cancellationToken);

    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await _reloading.WaitAsync(cancellationToken);
        try
        {
            await LoadAsync(cancellationToken);
        }
        finally
        {
            _reloading.Release();
        }
    }

    /// <summary>
    /// After a change committed here: reloads now, best effort. The change stands either way (the caller answers
    /// success), and the periodic reload picks it up within a second if this one fails.
    /// </summary>
    public async Task RefreshAfterChangeAsync()
    {
        try
        {
            await RefreshAsync(CancellationToken.None);
        }
        catch (Exception exception)
        {
            logger.LogWarning(exception, "Reloading {Registry} after a change failed; the next reload picks it up",
                GetType().Name);
        }
    }

    public override void Dispose()
    {
        _reloading.Dispose();
        base.Dispose();
        GC.SuppressFinalize(this);
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await RefreshAsync(cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(RefreshInterval, stoppingToken);
                await RefreshAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                logger.LogWarning(exception, "Reloading {Registry} failed; keeping the previous copy", GetType().Name);
            }
        }
    }
}
