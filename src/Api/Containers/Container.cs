namespace GpuLxc.Api.Containers;

public enum ContainerStatus
{
    Unknown,
    Stopped,
    Running,
}

/// <summary>A container on this host.</summary>
/// <param name="Id">Proxmox vmid, or the LXC container's name.</param>
/// <param name="Name">The hostname Proxmox shows, or the LXC name.</param>
/// <param name="Status">Running or stopped, as the backend reports it.</param>
/// <param name="Unprivileged">Whether the container runs in a user namespace (device nodes then need gid/mode).</param>
/// <param name="OsType">Proxmox's <c>ostype</c>, when set.</param>
/// <param name="Lock">Proxmox's <c>lock</c> (backup, snapshot, migrate, …): while set, GpuLxc does not edit the config.</param>
/// <param name="Attachment">The GPU attachment, when GpuLxc made one.</param>
public sealed record Container(
    string Id,
    string Name,
    ContainerStatus Status,
    bool Unprivileged,
    string? OsType,
    string? Lock,
    AttachmentSummary? Attachment);

/// <summary>A container's attachment at a glance.</summary>
/// <param name="Mode">How the devices are passed: <c>raw</c> lxc lines or Proxmox <c>dev</c> entries.</param>
/// <param name="Gpus">The attached GPUs (PCI addresses).</param>
/// <param name="Drift">Whether the config still says what GpuLxc wrote and matches the host's majors.</param>
public sealed record AttachmentSummary(Attachments.AttachmentMode Mode, IReadOnlyList<string> Gpus, Attachments.DriftStatus Drift);
