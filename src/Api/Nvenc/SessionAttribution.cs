using System.Globalization;
using System.Text.RegularExpressions;
using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Nvenc;

/// <summary>
/// Which container a host process runs in, from <c>/proc/&lt;pid&gt;/cgroup</c>: Proxmox puts containers under
/// <c>/lxc/&lt;vmid&gt;/</c>, plain LXC under <c>lxc.payload.&lt;name&gt;</c> (4.0+) or <c>/lxc/&lt;name&gt;/</c> (3.x).
/// </summary>
public sealed partial class SessionAttribution(IHostFileSystem files)
{
    /// <summary>The container of host process <paramref name="pid"/>, or null (on the host, or its cgroup could not be read).</summary>
    public async Task<string?> ContainerOfAsync(int pid, CancellationToken cancellationToken) =>
        (await OwnerOfAsync(pid, cancellationToken)).ContainerId;

    /// <summary>
    /// Who runs host process <paramref name="pid"/>: a container, the host, or — when its cgroup cannot be read — a
    /// process that has ended since the driver listed it (no <c>/proc/&lt;pid&gt;</c> left) or one this service may
    /// not look at.
    /// </summary>
    public async Task<ProcessOwner> OwnerOfAsync(int pid, CancellationToken cancellationToken)
    {
        var proc = string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}");
        var cgroup = await files.TryReadTextAsync(proc + "/cgroup", cancellationToken);
        if (cgroup is null)
        {
            return files.DirectoryExists(proc) ? ProcessOwner.Unknown : ProcessOwner.Exited;
        }

        return ContainerOf(cgroup) is { } container ? ProcessOwner.In(container) : ProcessOwner.Host;
    }

    /// <summary>The container in a cgroup file's lines (<c>0::/lxc/101/ns/system.slice/…</c>, <c>12:devices:/lxc.payload.jellyfin</c>).</summary>
    public static string? ContainerOf(string cgroupFile)
    {
        foreach (var line in cgroupFile.Split('\n'))
        {
            var path = line.Split(':', 3) is { Length: 3 } parts ? parts[2] : "";
            var match = ContainerPattern().Match(path);
            if (match.Success)
            {
                return match.Groups["vmid"].Success ? match.Groups["vmid"].Value : match.Groups["name"].Value;
            }
        }

        return null;
    }

    [GeneratedRegex(@"/lxc/(?:(?<vmid>[1-9][0-9]{2,8})|(?<name>[A-Za-z0-9][A-Za-z0-9_.-]{0,63}?))(?:/|$)|/lxc\.payload[./](?<name>[A-Za-z0-9][A-Za-z0-9_.-]{0,63}?)(?:/|$)")]
    private static partial Regex ContainerPattern();
}

/// <summary>What a host process belongs to.</summary>
/// <param name="Kind"><c>container</c>, <c>host</c>, <c>exited</c> (gone before its cgroup was read) or <c>unknown</c> (its cgroup could not be read).</param>
/// <param name="ContainerId">The container's id (a Proxmox vmid or an LXC name) when <paramref name="Kind"/> is <c>container</c>.</param>
public sealed record ProcessOwner(ProcessOwnerKind Kind, string? ContainerId)
{
    public static readonly ProcessOwner Host = new(ProcessOwnerKind.Host, null);
    public static readonly ProcessOwner Exited = new(ProcessOwnerKind.Exited, null);
    public static readonly ProcessOwner Unknown = new(ProcessOwnerKind.Unknown, null);

    public static ProcessOwner In(string containerId) => new(ProcessOwnerKind.Container, containerId);
}

/// <summary>The kinds of <see cref="ProcessOwner"/>.</summary>
public enum ProcessOwnerKind
{
    Container,
    Host,
    Exited,
    Unknown,
}
