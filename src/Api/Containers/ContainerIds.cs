using System.Text.RegularExpressions;

namespace GpuLxc.Api.Containers;

/// <summary>
/// The shape of a container id whatever the backend (design §3): a Proxmox vmid or an LXC container name. Where the
/// backend is known, <see cref="IContainerBackend.IsValidId"/> is stricter (a vmid is 100–999999999).
/// </summary>
public static partial class ContainerIds
{
    public const string Rule = "a Proxmox vmid or an LXC container name";

    /// <summary>Whether <paramref name="containerId"/> could be an id, e.g. <c>101</c> or <c>jellyfin</c>.</summary>
    public static bool IsWellFormed(string containerId) => Pattern().IsMatch(containerId);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\\z")]
    public static partial Regex Pattern();
}
