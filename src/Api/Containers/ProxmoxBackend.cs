using System.Globalization;
using System.Text.RegularExpressions;
using GpuLxc.Api.Containers.Config;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Hosts;

namespace GpuLxc.Api.Containers;

/// <summary>Proxmox VE: <c>/etc/pve/lxc/&lt;vmid&gt;.conf</c>, status and restarts through <c>pct</c>.</summary>
public sealed partial class ProxmoxBackend(IHostFileSystem files, IHostCommandRunner commands) : IContainerBackend
{
    private const string ConfigDirectory = "/etc/pve/lxc";
    private static readonly TimeSpan PctTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RestartTimeout = TimeSpan.FromMinutes(3);

    public HostBackend Kind => HostBackend.Proxmox;

    public string IdRule => "a Proxmox vmid: an integer from 100 to 999999999";

    public bool IsValidId(string containerId) =>
        VmidPattern().IsMatch(containerId) &&
        long.Parse(containerId, CultureInfo.InvariantCulture) is >= 100 and <= 999_999_999;

    public string ConfigPath(string containerId) => $"{ConfigDirectory}/{containerId}.conf";

    public string LockPath(string containerId) => $"/run/lock/lxc/pve-config-{containerId}.lock";

    public ConfigText ParseConfig(byte[] bytes) => new ProxmoxConfig(bytes);

    public IReadOnlyList<string> ListIds() =>
        files.ListDirectory(ConfigDirectory, "*.conf")
            .Select(path => Path.GetFileNameWithoutExtension(path))
            .Where(IsValidId)
            .OrderBy(id => long.Parse(id, CultureInfo.InvariantCulture))
            .ToList();

    /// <summary><c>pct list</c>: <c>VMID Status Lock Name</c>, the lock column blank when unlocked.</summary>
    public async Task<IReadOnlyDictionary<string, ContainerStatus>> StatusesAsync(CancellationToken cancellationToken)
    {
        var result = await commands.RunAsync(new HostCommand("pct", "list") { Timeout = PctTimeout }, cancellationToken);
        if (!result.Succeeded)
        {
            throw new ContainerBackendException($"pct list exited with {result.ExitCode}: {result.StandardError.Trim()}");
        }

        return StatusTable.Parse(result.StandardOutput, IsValidId, ParseStatus);
    }

    /// <summary><c>pct status &lt;vmid&gt;</c> prints <c>status: running</c>.</summary>
    public async Task<ContainerStatus> StatusAsync(string containerId, CancellationToken cancellationToken)
    {
        var result = await commands.RunAsync(new HostCommand("pct", "status", containerId) { Timeout = PctTimeout }, cancellationToken);
        var line = result.StandardOutput.Trim();
        return result.Succeeded && line.StartsWith("status:", StringComparison.Ordinal) ? ParseStatus(line["status:".Length..].Trim()) : ContainerStatus.Unknown;
    }

    public async Task RestartAsync(string containerId, CancellationToken cancellationToken)
    {
        var result = await commands.RunAsync(new HostCommand("pct", "reboot", containerId) { Timeout = RestartTimeout }, cancellationToken);
        if (!result.Succeeded)
        {
            throw new ContainerBackendException($"pct reboot {containerId} exited with {result.ExitCode}: {(result.StandardError + result.StandardOutput).Trim()}");
        }
    }

    public (string Name, bool Unprivileged, string? OsType, string? Lock) Describe(string containerId, ConfigText config) =>
        (config.Get("hostname") ?? $"CT{containerId}", config.Get("unprivileged") == "1", config.Get("ostype"), config.Get("lock"));

    /// <summary><c>devN:</c> passthrough arrived in Proxmox VE 8.1.</summary>
    public async Task<bool> SupportsDeviceEntriesAsync(CancellationToken cancellationToken)
    {
        if (commands.FindExecutable("pveversion") is null)
        {
            return false;
        }

        var result = await commands.RunAsync(new HostCommand("pveversion") { Timeout = PctTimeout }, cancellationToken);
        var parts = HostInfoReader.ParsePveVersion(result.StandardOutput)?.Split('.', '-');
        return parts is { Length: >= 2 } &&
               int.TryParse(parts[0], CultureInfo.InvariantCulture, out var major) &&
               int.TryParse(parts[1], CultureInfo.InvariantCulture, out var minor) &&
               (major, minor).CompareTo((8, 1)) >= 0;
    }

    /// <summary><c>pct exec &lt;vmid&gt; -- argv…</c></summary>
    public HostCommand Exec(string containerId, IReadOnlyList<string> argv) =>
        new("pct", ["exec", containerId, "--", .. argv]);

    /// <summary><c>pct push &lt;vmid&gt; &lt;file&gt; &lt;destination&gt;</c></summary>
    public HostCommand PushFile(string containerId, string localPath, string containerPath) =>
        new("pct", "push", containerId, localPath, containerPath);

    private static ContainerStatus ParseStatus(string status) => status switch
    {
        "running" => ContainerStatus.Running,
        "stopped" => ContainerStatus.Stopped,
        _ => ContainerStatus.Unknown,
    };

    [GeneratedRegex("^[1-9][0-9]{2,8}\\z")]
    private static partial Regex VmidPattern();
}
