using GpuLxc.Api.Infrastructure;

namespace GpuLxc.Api.Attachments;

/// <summary>A request about a container that cannot be carried out.</summary>
public sealed class AttachmentProblemException(int status, string title, string detail, string? fix = null)
    : ProblemException(status, title, detail, fix)
{
    public static AttachmentProblemException NoBackend() => new(StatusCodes.Status409Conflict, "No container backend on this host.",
        "Neither /etc/pve/lxc (Proxmox VE) nor the LXC tools were found, and GpuLxc:Host:Backend does not name one.",
        "Install Proxmox VE or LXC, or set GpuLxc:Host:Backend.");

    public static AttachmentProblemException NotFound(string containerId, string path) => new(StatusCodes.Status404NotFound, "No such container.",
        $"There is no container '{containerId}' ({path} does not exist).", "GET /api/v1/containers lists them.");

    public static AttachmentProblemException NotAttached(string containerId) => new(StatusCodes.Status404NotFound, "No GPU attachment.",
        $"GpuLxc has not attached a GPU to container '{containerId}'.", $"PUT /api/v1/containers/{containerId}/gpu attaches one.");
}
