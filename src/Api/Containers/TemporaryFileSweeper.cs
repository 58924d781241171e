using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Containers;

/// <summary>
/// At start, removes the temporary files a killed GpuLxc left beside container configs (on Proxmox that directory is
/// the cluster file system, where litter is seen by every node). Each is removed under its container's config lock,
/// so a write by a process still running (another GpuLxc, mid-rename) is never cut short. Failures are logged, never
/// fatal: a leftover temporary file is harmless and the next write to that config removes it as well.
/// </summary>
internal sealed partial class TemporaryFileSweeper(ContainerBackends backends, IHostFileSystem files, ILogger<TemporaryFileSweeper> logger) : IHostedService
{
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(10);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (backends.Current is { } backend)
            {
                await SweepAsync(backend, cancellationToken);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogFailed(logger, e);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task SweepAsync(IContainerBackend backend, CancellationToken cancellationToken)
    {
        var idByConfig = backend.ListIds().ToDictionary(backend.ConfigPath, id => id, StringComparer.Ordinal);
        foreach (var directory in idByConfig.Keys.Select(path => path[..path.LastIndexOf('/')]).Distinct(StringComparer.Ordinal))
        {
            foreach (var (temporary, target) in files.ListTemporaryFiles(directory))
            {
                if (!idByConfig.TryGetValue(target, out var containerId))
                {
                    continue;
                }

                using (await files.LockAsync(backend.LockPath(containerId), LockTimeout, cancellationToken))
                {
                    files.DeleteFile(temporary);
                }

                LogRemoved(logger, temporary);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Removed {Temporary}: a GpuLxc process was killed while writing it")]
    private static partial void LogRemoved(ILogger logger, string temporary);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not sweep temporary files beside the container configs")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
