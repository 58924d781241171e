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
    public async Task<string?> ContainerOfAsync(int pid, CancellationToken cancellationToken)
    {
        var cgroup = await files.TryReadTextAsync(string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}/cgroup"), cancellationToken);
        return cgroup is null ? null : ContainerOf(cgroup);
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
