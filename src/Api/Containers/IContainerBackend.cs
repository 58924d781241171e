using GpuLxc.Api.Containers.Config;
using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Containers;

/// <summary>What GpuLxc needs from a container manager: where configs live, how they are written, and status.</summary>
public interface IContainerBackend
{
    HostBackend Kind { get; }

    /// <summary>Whether <paramref name="containerId"/> is an id this backend uses (checked before any path is built).</summary>
    bool IsValidId(string containerId);

    /// <summary>A sentence that says what a valid id is.</summary>
    string IdRule { get; }

    string ConfigPath(string containerId);

    /// <summary>The lock file taken while editing the config.</summary>
    string LockPath(string containerId);

    ConfigText ParseConfig(byte[] bytes);

    /// <summary>The ids of every container, from the config files.</summary>
    IReadOnlyList<string> ListIds();

    /// <summary>The status of every container, in one call to the container manager.</summary>
    Task<IReadOnlyDictionary<string, ContainerStatus>> StatusesAsync(CancellationToken cancellationToken);

    Task<ContainerStatus> StatusAsync(string containerId, CancellationToken cancellationToken);

    Task RestartAsync(string containerId, CancellationToken cancellationToken);

    /// <summary>Name, privilege, OS type and lock from the parsed config.</summary>
    (string Name, bool Unprivileged, string? OsType, string? Lock) Describe(string containerId, ConfigText config);

    /// <summary>Whether Proxmox <c>devN:</c> entries can be used (PVE ≥ 8.1).</summary>
    Task<bool> SupportsDeviceEntriesAsync(CancellationToken cancellationToken);

    /// <summary>
    /// The host command that runs <paramref name="argv"/> inside the running container (<c>pct exec</c>,
    /// <c>lxc-attach</c>): the container's program receives the arguments unchanged, no shell in between.
    /// </summary>
    HostCommand Exec(string containerId, IReadOnlyList<string> argv);

    /// <summary>The host command that copies a file on this machine to <paramref name="containerPath"/> inside the running container.</summary>
    HostCommand PushFile(string containerId, string localPath, string containerPath);
}

/// <summary>The listing tools of both backends print a header line, then one container per line: id, state, ….</summary>
internal static class StatusTable
{
    public static Dictionary<string, ContainerStatus> Parse(string output, Func<string, bool> isValidId, Func<string, ContainerStatus> parseState)
    {
        var statuses = new Dictionary<string, ContainerStatus>(StringComparer.Ordinal);
        foreach (var line in output.Split('\n').Skip(1))
        {
            var columns = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (columns.Length >= 2 && isValidId(columns[0]))
            {
                statuses[columns[0]] = parseState(columns[1]);
            }
        }

        return statuses;
    }
}

/// <summary>The container manager failed to do what was asked.</summary>
public sealed class ContainerBackendException(string message) : Exception(message);
