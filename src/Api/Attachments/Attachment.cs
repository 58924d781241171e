using GpuLxc.Api.Inventory;
using GpuLxc.Api.Containers.Config;

namespace GpuLxc.Api.Attachments;

/// <summary>Where a container's NVIDIA userspace driver comes from.</summary>
public enum UserspaceSource
{
    /// <summary>Installed in the container (by a guest driver job or by hand); it must equal the host's module exactly.</summary>
    Installed,

    /// <summary>The host's own files of the loaded version, bound in read-only: nothing to install, a host upgrade needs a re-PUT and restart.</summary>
    Host,
}

public enum AttachmentMode
{
    /// <summary><c>dev</c> where the host supports it (Proxmox VE ≥ 8.1), else <c>raw</c>.</summary>
    Auto,

    /// <summary>Raw LXC lines: a cgroup device rule per major and a bind mount per node.</summary>
    Raw,

    /// <summary>Proxmox <c>devN:</c> entries; Proxmox resolves majors at each start.</summary>
    Dev,
}

/// <summary>The body of <c>PUT /api/v1/containers/{containerId}/gpu</c>.</summary>
/// <param name="Gpus">GPU ids (UUID, PCI address or index); omitted or empty = every NVIDIA GPU.</param>
/// <param name="Mode"><c>auto</c> (default), <c>raw</c> or <c>dev</c>.</param>
/// <param name="IncludeModeset">Pass <c>/dev/nvidia-modeset</c> when it exists (default true).</param>
/// <param name="IncludeUvmTools">Pass <c>/dev/nvidia-uvm-tools</c> when it exists (default true).</param>
/// <param name="Userspace"><c>installed</c> (default: the container has its own driver userspace) or <c>host</c> (the host's
/// files of the loaded version are bound in read-only at their versioned and SONAME paths in
/// <c>/usr/lib/x86_64-linux-gnu</c>, programs in <c>/usr/bin</c>; nothing is installed in the container).</param>
/// <param name="Capabilities">With <c>host</c>: what to bind — <c>utility</c>, <c>compute</c>, <c>video</c>, <c>graphics</c>;
/// omitted = <c>utility</c>, <c>compute</c> and <c>video</c>. Ignored with <c>installed</c>.</param>
/// <param name="Group">A group of the container's own <c>/etc/group</c> (e.g. <c>video</c>, <c>render</c>) whose members are to
/// open the nodes: <c>devN</c> entries get its gid inside (<c>gid=</c>) and group read-write (<c>mode=</c>); bound nodes of an
/// unprivileged container must show inside with that group through its idmap, else 409 <c>nodes-unusable-inside</c>. A
/// POSIX group name (lowercase letter or <c>_</c>, then up to 31 lowercase letters, digits, <c>_</c> or <c>-</c>); omitted:
/// <c>devN</c> entries keep the host node's gid and mode, and a bound node needs only someone inside who can open it.
/// It applies to DRM nodes as to NVIDIA's.</param>
/// <param name="Drm">GPUs whose DRM card and render nodes to pass (an Intel or AMD iGPU by PCI address; an NVIDIA GPU by PCI
/// address, UUID or index when <c>nvidia-drm</c> made its nodes); omitted or empty = none. They are named by udev's stable
/// <c>/dev/dri/by-path/pci-&lt;address&gt;-card|render</c> links, so a card order that changes at boot cannot swap them. Inside,
/// raw mode gives the GPU at position <c>i</c> of this list <c>/dev/dri/card&lt;i&gt;</c> and <c>/dev/dri/renderD&lt;128+i&gt;</c>;
/// dev mode shows them at their by-path names (Proxmox makes a <c>devN</c> node inside at the path it names). Independent of
/// <c>gpus</c>: the NVIDIA GPUs' own nodes are passed as <c>gpus</c> says.</param>
public sealed record AttachRequest(
    IReadOnlyList<string>? Gpus = null,
    AttachmentMode Mode = AttachmentMode.Auto,
    bool IncludeModeset = true,
    bool IncludeUvmTools = true,
    UserspaceSource Userspace = UserspaceSource.Installed,
    IReadOnlyList<DriverCapability>? Capabilities = null,
    string? Group = null,
    IReadOnlyList<string>? Drm = null);

/// <summary>A config line GpuLxc manages: <c>key: value</c> (a <c>devN</c> key is any free index).</summary>
/// <param name="Key">e.g. <c>lxc.cgroup2.devices.allow</c>, <c>lxc.mount.entry</c>, <c>dev0</c>.</param>
/// <param name="Value">e.g. <c>c 195:* rwm</c>.</param>
/// <param name="Present">Whether the line is in the config now.</param>
public sealed record ManagedLine(string Key, string Value, bool Present);

/// <summary>A device node passed to the container, with the numbers the host gave it.</summary>
/// <param name="Path">The host path the config names: <c>/dev/nvidia0</c>, or a DRM node's stable link <c>/dev/dri/by-path/pci-0000:00:02.0-render</c>.</param>
/// <param name="Major">The node's major.</param>
/// <param name="Minor">The node's minor (for a DRM node, of the node its link points to; it changes with the card order).</param>
/// <param name="ResolvesTo">For a DRM node: the node its link points to now (<c>/dev/dri/renderD129</c>); null for the others (and when the link is gone).</param>
/// <param name="InsidePath">For a DRM node: its path inside the container (<c>/dev/dri/renderD128</c> in raw mode, the by-path name in dev mode); null for the others, which show inside at <c>path</c>.</param>
public sealed record AttachedNode(string Path, uint Major, uint Minor, string? ResolvesTo = null, string? InsidePath = null);

public enum DriftStatus
{
    /// <summary>The config has every line GpuLxc wrote, and they match the host.</summary>
    InSync,

    /// <summary>Lines GpuLxc wrote were removed or changed by hand.</summary>
    EditedByHand,

    /// <summary>The host's device majors or nodes changed (driver or kernel update): the lines are stale.</summary>
    HostChanged,

    /// <summary>
    /// Nodes the attachment needs are missing on the host now; for a <c>devN</c> entry that means Proxmox refuses to
    /// start the container (the detail says so).
    /// </summary>
    NodesMissing,

    /// <summary>A node's major disagrees with the one <c>/proc/devices</c> gives its driver: the container cannot use it.</summary>
    NodesBroken,

    /// <summary>
    /// The container is unprivileged and cannot open nodes bound into it: their owner and group are not mapped by its
    /// idmap (they show as <c>nobody:nogroup</c>) and their mode grants nothing to others, or they do not show with the
    /// group the attachment asked for.
    /// </summary>
    NodesUnusable,
}

/// <summary>Whether an attachment still holds, and what to do when it does not.</summary>
public sealed record Drift(DriftStatus Status, string Detail, string? Fix);

/// <summary>A container's GPU attachment.</summary>
/// <param name="ContainerId">The container.</param>
/// <param name="Mode">The mode in effect (<c>raw</c> or <c>dev</c>).</param>
/// <param name="Gpus">The attached GPUs, by PCI address.</param>
/// <param name="Drm">The GPUs whose DRM nodes are passed, by PCI address (empty when none).</param>
/// <param name="Lines">The lines GpuLxc manages in the config, and whether each is there.</param>
/// <param name="DeviceNodes">The device nodes passed, with their majors and minors.</param>
/// <param name="Drift">Whether the config and the host still agree with what GpuLxc wrote.</param>
/// <param name="UpdatedAt">When GpuLxc last wrote the attachment.</param>
/// <param name="Confinement">Whether the container denies devices by default; when not, root inside can create the GPU's
/// nodes itself and a detach does not revoke the GPU.</param>
public sealed record Attachment(
    string ContainerId,
    AttachmentMode Mode,
    IReadOnlyList<string> Gpus,
    IReadOnlyList<ManagedLine> Lines,
    IReadOnlyList<AttachedNode> DeviceNodes,
    Drift Drift,
    DateTimeOffset UpdatedAt,
    DeviceConfinement? Confinement = null,
    IReadOnlyList<string>? Drm = null);

/// <summary>What a PUT or DELETE did, or with <c>dryRun</c> would do.</summary>
/// <param name="Attachment">The attachment after the change; null after a detach.</param>
/// <param name="Changed">Whether the config was (or would be) rewritten; false when it already said this.</param>
/// <param name="DryRun">Nothing was written.</param>
/// <param name="RestartRequired">The container runs and must restart for the change to take effect.</param>
/// <param name="Restarted">GpuLxc restarted the container (<c>restart=true</c>).</param>
/// <param name="Added">Lines added to the config.</param>
/// <param name="Removed">Lines removed from the config.</param>
/// <param name="Diff">A unified diff of the config.</param>
/// <param name="Warnings">What the attachment will not survive or do as asked (a node nothing recreates at boot); empty when none.</param>
/// <param name="HandMadeLines">After an attach: the config's GPU lines GpuLxc did not write and left in place (a setup
/// made by hand or by a script), each with what is stale about it on this host; null after a detach.</param>
public sealed record AttachmentChange(
    Attachment? Attachment,
    bool Changed,
    bool DryRun,
    bool RestartRequired,
    bool Restarted,
    IReadOnlyList<string> Added,
    IReadOnlyList<string> Removed,
    string Diff,
    IReadOnlyList<AttachmentWarning> Warnings,
    IReadOnlyList<HandMadeLine>? HandMadeLines = null);

/// <summary>Something the caller must know about an attachment that was made all the same.</summary>
/// <param name="Node">The device node it is about, e.g. <c>/dev/nvidia-modeset</c>.</param>
/// <param name="Message">What happens, and why.</param>
/// <param name="Fix">What to do about it.</param>
public sealed record AttachmentWarning(string Node, string Message, string Fix);
