using GpuLxc.Api.Attachments;
using GpuLxc.Api.Containers.Config;
using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Containers;

/// <summary>
/// The host's containers through the backend in effect: which backend, whether an id is one of its ids, reading a
/// config, and the container views (with each GpuLxc attachment's drift at a glance).
/// </summary>
public sealed partial class ContainerDirectory(
    ContainerBackends backends,
    IHostFileSystem files,
    AttachmentStore store,
    PlanContextReader planContexts,
    ILogger<ContainerDirectory> logger)
{
    /// <summary>The backend in effect; 409 (no backend) when neither Proxmox VE nor LXC is there or configured.</summary>
    public IContainerBackend CurrentBackend() => backends.Current ?? throw ContainerProblems.NoBackendFound();

    /// <summary>
    /// The backend, after checking that <paramref name="containerId"/> is one of its ids: 409 when there is no backend,
    /// 400 when the id breaks the backend's rule (a Proxmox vmid, an LXC name). It does not check that the container exists.
    /// </summary>
    public IContainerBackend BackendFor(string containerId)
    {
        var backend = CurrentBackend();
        return backend.IsValidId(containerId)
            ? backend
            : throw ContainerProblems.InvalidContainerId(containerId, backend.IdRule);
    }

    /// <summary>The container's config file, raw and parsed; 404 when it does not exist.</summary>
    public async Task<(byte[] Bytes, ConfigText Config)> ReadConfigAsync(IContainerBackend backend, string containerId, CancellationToken cancellationToken)
    {
        var bytes = await files.TryReadBytesAsync(backend.ConfigPath(containerId), cancellationToken)
                    ?? throw ContainerProblems.NoSuchContainer(containerId, backend.ConfigPath(containerId));
        return (bytes, backend.ParseConfig(bytes));
    }

    /// <summary>
    /// Every container the backend lists whose config is readable (one removed meanwhile is left out); 409 when there is
    /// no backend. Statuses come from one backend call; when it fails they are <see cref="ContainerStatus.Unknown"/>.
    /// </summary>
    public async Task<IReadOnlyList<Container>> ListContainersAsync(CancellationToken cancellationToken)
    {
        var backend = CurrentBackend();
        var statuses = await StatusesAsync(backend, cancellationToken);
        var records = (await store.ListAsync(cancellationToken)).ToDictionary(r => r.ContainerId, StringComparer.Ordinal);
        var context = records.Count > 0 ? await planContexts.ReadAsync(cancellationToken) : null;

        var containers = new List<Container>();
        foreach (var id in backend.ListIds())
        {
            var bytes = await files.TryReadBytesAsync(backend.ConfigPath(id), cancellationToken);
            if (bytes is not null)
            {
                containers.Add(Describe(backend, id, backend.ParseConfig(bytes), statuses.GetValueOrDefault(id), records.GetValueOrDefault(id), context));
            }
        }

        return containers;
    }

    /// <summary>One container: 409 with no backend, 400 for an invalid id, 404 when its config does not exist.</summary>
    public async Task<Container> GetContainerAsync(string containerId, CancellationToken cancellationToken)
    {
        var backend = BackendFor(containerId);
        var (_, config) = await ReadConfigAsync(backend, containerId, cancellationToken);
        var record = await store.FindAsync(containerId, cancellationToken);
        var status = await backend.StatusAsync(containerId, cancellationToken);
        return Describe(backend, containerId, config, status, record, record is null ? null : await planContexts.ReadAsync(cancellationToken));
    }

    private async Task<IReadOnlyDictionary<string, ContainerStatus>> StatusesAsync(IContainerBackend backend, CancellationToken cancellationToken)
    {
        try
        {
            return await backend.StatusesAsync(cancellationToken);
        }
        catch (Exception e) when (e is ContainerBackendException or HostCommandNotFoundException or HostCommandTimeoutException)
        {
            LogStatusUnavailable(logger, e.Message);
            return new Dictionary<string, ContainerStatus>();
        }
    }

    private static Container Describe(IContainerBackend backend, string id, ConfigText config, ContainerStatus status, AttachmentRecord? record, PlanContext? context)
    {
        var (name, unprivileged, osType, lockName) = backend.Describe(id, config);
        var summary = record is null || context is null
            ? null
            : new AttachmentSummary(record.Mode, record.Gpus, DriftCheck.Of(record, config, context, unprivileged).Status);
        return new Container(id, name, status, unprivileged, osType, lockName, summary);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Container statuses are unavailable: {Reason}")]
    private static partial void LogStatusUnavailable(ILogger logger, string reason);
}
