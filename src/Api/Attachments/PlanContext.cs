using GpuLxc.Api.Hosts;
using GpuLxc.Api.Inventory;

namespace GpuLxc.Api.Attachments;

/// <summary>The host facts every plan reads: GPUs, device nodes (majors read now) and the cgroup version.</summary>
/// <param name="Gpus">The host's GPUs as the topology reader sees them (cached; not refreshed per request).</param>
/// <param name="Nodes">The NVIDIA device nodes, <c>stat(2)</c>-ed now, with the majors <c>/proc/devices</c> gives.</param>
/// <param name="Cgroup">Which cgroup version holds the devices controller (picks the <c>lxc.cgroup*</c> key).</param>
/// <param name="Userspace">The loaded driver's userspace files, for <c>userspace: host</c>; null when no module is loaded.</param>
/// <param name="Boot">What recreates the nodes at boot; null when unknown (every node counts as recreated).</param>
/// <param name="Drm">Every display device of any vendor with its DRM nodes, read now (not cached: card numbers change at boot); null: none.</param>
public sealed record PlanContext(IReadOnlyList<Gpu> Gpus, DeviceNodeScan Nodes, CgroupVersion Cgroup, HostUserspace? Userspace = null, BootNodeSources? Boot = null,
    IReadOnlyList<DrmDevice>? Drm = null)
{
    /// <summary>The by-path links of the DRM nodes that can be passed now (the link is there and points to its node).</summary>
    public IReadOnlySet<string> UsableDrmLinks => (Drm ?? []).SelectMany(d => d.Nodes).Where(n => n.Usable).Select(n => n.ByPath).ToHashSet(StringComparer.Ordinal);
}

/// <summary>
/// Reads a <see cref="PlanContext"/>; shared by attaching (what to write) and by every drift check, in the attachment
/// and container views alike, so that both compare against the same reading of the host.
/// </summary>
public sealed class PlanContextReader(GpuInventory inventory, DeviceNodeScanner nodeScanner, HostInfoReader hostInfo, HostUserspaceReader userspace, BootNodeSourceReader bootSources,
    PciGpuScanner pci, DrmNodeScanner drm)
{
    /// <summary>
    /// The host as it is now: the GPUs, then the nodes of the GPUs bound to nvidia, the cgroup version, the driver's
    /// userspace files, what recreates nodes at boot, and every GPU's DRM nodes.
    /// </summary>
    public async Task<PlanContext> ReadAsync(CancellationToken cancellationToken)
    {
        var gpus = await inventory.TopologyGpusAsync(refresh: false, cancellationToken);
        var display = (await pci.ScanDisplayAsync(cancellationToken))
            .Select(g => new DrmDevice(g.Address, $"{OtherGpu.VendorName(g.VendorId)}, {g.KernelDriver}", drm.Scan(g.Address)))
            .ToList();
        return new PlanContext(gpus, await nodeScanner.ScanAsync(GpuInventory.BoundMinors(gpus), cancellationToken), hostInfo.ReadCgroupVersion(),
            await userspace.ReadAsync(cancellationToken), await bootSources.ReadAsync(cancellationToken), display);
    }
}
