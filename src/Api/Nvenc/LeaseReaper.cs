namespace GpuLxc.Api.Nvenc;

/// <summary>Reclaims expired leases every second (a crashed transcoder frees its slot) and refreshes the metrics' status.</summary>
public sealed partial class LeaseReaper(NvencGuard guard, ILogger<LeaseReaper> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    private static readonly int StatusEvery = 5;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        var tick = 0;
        do
        {
            try
            {
                await guard.ReapAsync(stoppingToken);
                if (tick++ % StatusEvery == 0)
                {
                    await guard.StatusAsync(stoppingToken);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogFailed(logger, e);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reclaiming expired NVENC leases failed")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
