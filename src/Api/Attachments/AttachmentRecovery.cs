using GpuLxc.Api.Containers;
using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Attachments;

/// <summary>
/// Settles the intents a killed process left (issue 15): the config file is the truth, so each is completed or dropped
/// by what the file holds now (<see cref="AttachmentIntent.Resolve"/>). At start for every open intent of the backend
/// in effect, each under its container's config lock; and lazily, before any read or edit of a container's attachment,
/// in case the start could not (the lock was held, the data dir was briefly unwritable). A failure at start is logged,
/// never fatal: the lazy path retries.
/// </summary>
public sealed partial class AttachmentRecovery(
    ContainerBackends backends, IHostFileSystem files, AttachmentIntents intents, ILogger<AttachmentRecovery> logger) : IHostedService
{
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Settles the container's open intent, if any, taking its config lock only then (no lock file is made otherwise).</summary>
    /// <exception cref="HostLockTimeoutException">An intent is open and another holder kept the lock past 10 s.</exception>
    public async Task ResolveAsync(IContainerBackend backend, string containerId, CancellationToken cancellationToken)
    {
        if (await intents.FindAsync(containerId, cancellationToken) is null)
        {
            return;
        }

        using (await files.LockAsync(backend.LockPath(containerId), LockTimeout, cancellationToken))
        {
            await ResolveLockedAsync(backend, containerId, cancellationToken);
        }
    }

    /// <summary>Settles the container's open intent, if any; the caller holds the container's config lock.</summary>
    public async Task ResolveLockedAsync(IContainerBackend backend, string containerId, CancellationToken cancellationToken)
    {
        if (await intents.FindAsync(containerId, cancellationToken) is not { } intent || intent.Backend != backend.Kind.ToString())
        {
            return;
        }

        var current = await files.TryReadBytesAsync(backend.ConfigPath(containerId), cancellationToken);
        var outcome = intent.Resolve(current);
        if (outcome == IntentOutcome.Complete)
        {
            await intents.CompleteAsync(intent, cancellationToken);
        }
        else
        {
            await intents.DropAsync(containerId, cancellationToken);
        }

        LogResolved(logger, intent.Action, containerId, outcome);
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (backends.Current is not { } backend)
            {
                return;
            }

            foreach (var intent in await intents.ListAsync(cancellationToken))
            {
                if (intent.Backend == backend.Kind.ToString() && backend.IsValidId(intent.ContainerId))
                {
                    await ResolveAsync(backend, intent.ContainerId, cancellationToken);
                }
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogFailed(logger, e);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "An interrupted {Action} of container {ContainerId} was settled against its config: {Outcome}")]
    private static partial void LogResolved(ILogger logger, string action, string containerId, IntentOutcome outcome);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not settle interrupted attachment edits at start; each is settled at the container's next use")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
