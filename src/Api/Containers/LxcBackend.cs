using GpuLxc.Api.Containers.Config;
using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Containers;

/// <summary>Plain LXC: <c>/var/lib/lxc/&lt;name&gt;/config</c>, the <c>lxc-*</c> tools.</summary>
public sealed class LxcBackend(IHostFileSystem files, IHostCommandRunner commands) : IContainerBackend
{
    private const string LxcPath = "/var/lib/lxc";
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromMinutes(2);

    public HostBackend Kind => HostBackend.Lxc;

    public string IdRule => "an LXC container name: a letter or digit, then up to 63 letters, digits, '_', '.' or '-'";

    public bool IsValidId(string containerId) => ContainerIds.IsWellFormed(containerId);

    public string ConfigPath(string containerId) => $"{LxcPath}/{containerId}/config";

    public string LockPath(string containerId) => $"/run/lock/lxc/gpulxc-config-{containerId}.lock";

    public ConfigText ParseConfig(byte[] bytes) => new LxcConfig(bytes);

    public IReadOnlyList<string> ListIds() =>
        files.ListDirectory(LxcPath)
            .Select(Path.GetFileName)
            .OfType<string>()
            .Where(name => IsValidId(name) && files.FileExists(ConfigPath(name)))
            .ToList();

    /// <summary><c>lxc-ls --fancy --fancy-format NAME,STATE</c>: a header, then one container per line.</summary>
    public async Task<IReadOnlyDictionary<string, ContainerStatus>> StatusesAsync(CancellationToken cancellationToken)
    {
        var result = await commands.RunAsync(new HostCommand("lxc-ls", "--fancy", "--fancy-format", "NAME,STATE") { Timeout = ToolTimeout }, cancellationToken);
        if (!result.Succeeded)
        {
            throw new ContainerBackendException($"lxc-ls exited with {result.ExitCode}: {result.StandardError.Trim()}");
        }

        return StatusTable.Parse(result.StandardOutput, IsValidId, ParseState);
    }

    /// <summary><c>lxc-info -n &lt;name&gt; -s -H</c> prints the bare state: <c>RUNNING</c>, <c>STOPPED</c>, …</summary>
    public async Task<ContainerStatus> StatusAsync(string containerId, CancellationToken cancellationToken)
    {
        var result = await commands.RunAsync(new HostCommand("lxc-info", "-n", containerId, "-s", "-H") { Timeout = ToolTimeout }, cancellationToken);
        return result.Succeeded ? ParseState(result.StandardOutput.Trim()) : ContainerStatus.Unknown;
    }

    public async Task RestartAsync(string containerId, CancellationToken cancellationToken)
    {
        var stop = await commands.RunAsync(new HostCommand("lxc-stop", "-n", containerId) { Timeout = StopTimeout }, cancellationToken);
        var start = await commands.RunAsync(new HostCommand("lxc-start", "-n", containerId) { Timeout = ToolTimeout }, cancellationToken);
        if (!stop.Succeeded || !start.Succeeded)
        {
            throw new ContainerBackendException(
                $"Restarting {containerId} failed: lxc-stop exited with {stop.ExitCode}, lxc-start with {start.ExitCode}: {(stop.StandardError + start.StandardError).Trim()}");
        }
    }

    public (string Name, bool Unprivileged, string? OsType, string? Lock) Describe(string containerId, ConfigText config) =>
        (containerId, config.Get("lxc.idmap") is not null || config.Get("lxc.id_map") is not null, null, null);

    public Task<bool> SupportsDeviceEntriesAsync(CancellationToken cancellationToken) => Task.FromResult(false);

    /// <summary>
    /// <c>lxc-attach -n &lt;name&gt; --clear-env -- argv…</c>: the host's environment (its PATH with GpuLxc's stub
    /// directories, its locale) stays outside; LXC gives the program the container's default PATH.
    /// </summary>
    public HostCommand Exec(string containerId, IReadOnlyList<string> argv) =>
        new("lxc-attach", ["-n", containerId, "--clear-env", "--", .. argv]);

    /// <summary>
    /// <c>dd</c> inside the container writes what <c>lxc-attach</c> forwards from its standard input: the same for every
    /// rootfs type (directory, overlay, LVM, ZFS) and for unprivileged containers, with no host path into the rootfs.
    /// </summary>
    public HostCommand PushFile(string containerId, string localPath, string containerPath) =>
        Exec(containerId, ["dd", $"of={containerPath}", "bs=1M"]) with { StandardInputPath = localPath };

    private static ContainerStatus ParseState(string state) => state switch
    {
        "RUNNING" => ContainerStatus.Running,
        "STOPPED" => ContainerStatus.Stopped,
        _ => ContainerStatus.Unknown,
    };
}
