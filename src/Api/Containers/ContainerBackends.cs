using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Containers;

/// <summary>The backend in effect (design §2: configured, or detected on each use).</summary>
public sealed class ContainerBackends(HostBackendDetector detector, ProxmoxBackend proxmox, LxcBackend lxc)
{
    public IContainerBackend? Current => detector.Detect().Backend switch
    {
        HostBackend.Proxmox => proxmox,
        HostBackend.Lxc => lxc,
        _ => null,
    };
}
