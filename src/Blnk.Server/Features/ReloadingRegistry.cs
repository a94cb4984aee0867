namespace Blnk.Server.Features;

/// <summary>
/// An in-memory copy of a small table the writer consults on every batch (monitors, hooks), so the writer
/// never reads it from the database. Loaded before the server starts, reloaded every second (changes made by
/// another process are seen within that) and at once after a change made here (<see cref="RefreshAsync"/>).
/// </summary>
public abstract class ReloadingRegistry(ILogger logger) : BackgroundService
{
    private static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(1);

    public abstract Task RefreshAsync(CancellationToken cancellationToken);

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
