namespace GpuLxc.Api.Inventory;

/// <summary>One NVIDIA GPU on the host.</summary>
/// <param name="Index">NVML's index (PCI order); the position in PCI order when NVML is absent.</param>
/// <param name="Uuid">e.g. <c>GPU-46a4012c-1313-b398-522d-4d20fa41674c</c>; null until the nvidia driver is bound.</param>
/// <param name="PciAddress">e.g. <c>0000:00:06.0</c>.</param>
/// <param name="Name">e.g. <c>NVIDIA H100 80GB HBM3</c>; null when only sysfs could be read.</param>
/// <param name="Brand">NVML's brand (<c>geforce</c>, <c>quadro</c>, <c>nvidia</c>, …), or <c>unknown</c>.</param>
/// <param name="VendorId">PCI vendor id, hex (<c>10de</c>).</param>
/// <param name="DeviceId">PCI device id, hex (<c>2330</c>).</param>
/// <param name="SubsystemVendorId">PCI subsystem vendor id, hex.</param>
/// <param name="SubsystemDeviceId">PCI subsystem device id, hex.</param>
/// <param name="KernelDriver">The driver bound to the device: <c>nvidia</c>, <c>nouveau</c>, <c>vfio-pci</c>, another, or <c>none</c>.</param>
/// <param name="NumaNode">The device's NUMA node, when the platform has one.</param>
/// <param name="Minor">The device minor: the <c>N</c> of <c>/dev/nvidiaN</c>.</param>
/// <param name="Vbios">The video BIOS version.</param>
/// <param name="DeviceNodes">The GPU's own device node (<c>/dev/nvidiaN</c>).</param>
/// <param name="Nvenc">The GPU's encoder: whether it has one, the session limit and what is in use now.</param>
/// <param name="Sources">Where the facts came from: <c>sysfs</c>, <c>procfs</c>, <c>nvml</c>, <c>nvidia-smi</c>.</param>
/// <param name="Notes">What could not be read, and why.</param>
/// <param name="AssignedTo">The VM that takes the GPU for PCI passthrough (a <c>hostpciN</c> entry of its config): such a GPU is that VM's, on vfio-pci by design, not a fault; null when no VM claims it.</param>
/// <param name="DrmNodes">The card and render nodes <c>nvidia-drm</c> made for the GPU (none without <c>nvidia-drm</c>), each with its
/// stable <c>/dev/dri/by-path</c> link; attach them with the request's <c>drm</c>.</param>
public sealed record Gpu(
    int Index,
    string? Uuid,
    string PciAddress,
    string? Name,
    string Brand,
    string VendorId,
    string DeviceId,
    string? SubsystemVendorId,
    string? SubsystemDeviceId,
    string KernelDriver,
    int? NumaNode,
    int? Minor,
    string? Vbios,
    IReadOnlyList<DeviceNode> DeviceNodes,
    NvencInfo Nvenc,
    IReadOnlyList<string> Sources,
    IReadOnlyList<string> Notes,
    GpuAssignment? AssignedTo = null,
    IReadOnlyList<DrmNode>? DrmNodes = null);

/// <summary>
/// A GPU of another vendor (an Intel or AMD iGPU beside the NVIDIA card): GpuLxc passes its DRM nodes (request field
/// <c>drm</c>) and nothing else; it has no NVML index, UUID or NVENC, and the NVIDIA routes answer 404 for it.
/// </summary>
/// <param name="PciAddress">e.g. <c>0000:00:02.0</c>: the id to name it by.</param>
/// <param name="Vendor"><c>intel</c>, <c>amd</c>, <c>matrox</c>, <c>aspeed</c> (a server's BMC display), or <c>unknown</c>.</param>
/// <param name="VendorId">PCI vendor id, hex (<c>8086</c>).</param>
/// <param name="DeviceId">PCI device id, hex.</param>
/// <param name="SubsystemVendorId">PCI subsystem vendor id, hex.</param>
/// <param name="SubsystemDeviceId">PCI subsystem device id, hex.</param>
/// <param name="KernelDriver">The driver bound to it: <c>i915</c>, <c>xe</c>, <c>amdgpu</c>, <c>vfio-pci</c>, another, or <c>none</c>.</param>
/// <param name="NumaNode">The device's NUMA node, when the platform has one.</param>
/// <param name="DrmNodes">Its card and render nodes now, each with its stable <c>/dev/dri/by-path</c> link; empty when its driver made none.</param>
/// <param name="Notes">What could not be read, or why its nodes cannot be passed.</param>
public sealed record OtherGpu(
    string PciAddress,
    string Vendor,
    string VendorId,
    string DeviceId,
    string? SubsystemVendorId,
    string? SubsystemDeviceId,
    string KernelDriver,
    int? NumaNode,
    IReadOnlyList<DrmNode> DrmNodes,
    IReadOnlyList<string> Notes)
{
    /// <summary>The vendor's name for a PCI vendor id (<c>8086</c> → <c>intel</c>); <c>unknown</c> for the rest.</summary>
    public static string VendorName(string vendorId) => vendorId switch
    {
        "8086" => "intel",
        "1002" or "1022" => "amd",
        "10de" => "nvidia",
        "102b" => "matrox",
        "1a03" => "aspeed",
        _ => "unknown",
    };
}

/// <summary>A device node as <c>stat(2)</c> sees it, checked against <c>/proc/devices</c>.</summary>
/// <param name="Path">e.g. <c>/dev/nvidia-uvm</c>.</param>
/// <param name="Present">Whether the node exists.</param>
/// <param name="Required">Whether containers need it to use the GPU.</param>
/// <param name="Type">The file type; <c>characterDevice</c> for a proper node.</param>
/// <param name="Major">The node's major number, as the host assigned it (uvm and caps majors differ between hosts).</param>
/// <param name="Minor">The node's minor number.</param>
/// <param name="Mode">Permission bits in octal, e.g. <c>0666</c>.</param>
/// <param name="Uid">Owner user id.</param>
/// <param name="Gid">Owner group id.</param>
/// <param name="ExpectedMajor">The major <c>/proc/devices</c> lists for the node's driver.</param>
/// <param name="MajorMatches">Whether <see cref="Major"/> is <see cref="ExpectedMajor"/>; null when either is unknown.</param>
public sealed record DeviceNode(
    string Path,
    bool Present,
    bool Required,
    HostAccess.HostFileType? Type,
    uint? Major,
    uint? Minor,
    string? Mode,
    uint? Uid,
    uint? Gid,
    uint? ExpectedMajor,
    bool? MajorMatches);

/// <summary>The GPU's NVENC encoder.</summary>
/// <param name="Supported">False on GPUs without NVENC (H100, A100, A30, GT 1030, …).</param>
/// <param name="Limit">Concurrent sessions the driver allows; null when unrestricted or unsupported.</param>
/// <param name="LimitSource">Where <see cref="Limit"/> comes from.</param>
/// <param name="LimitScope">NVIDIA counts consumer sessions per machine, not per GPU: <c>host</c>, or <c>none</c> when unrestricted.</param>
/// <param name="Reason">Why the GPU is supported, unsupported or limited.</param>
/// <param name="SessionCount">Encode sessions running now, when the driver can tell.</param>
/// <param name="AverageFps">Average FPS over the running sessions.</param>
/// <param name="AverageLatencyMicroseconds">Average encode latency over the running sessions.</param>
/// <param name="UtilizationPercent">Encoder utilisation.</param>
/// <param name="Sessions">The running sessions with their host PIDs (NVML only).</param>
public sealed record NvencInfo(
    bool Supported,
    int? Limit,
    NvencLimitSource LimitSource,
    string LimitScope,
    string Reason,
    int? SessionCount,
    int? AverageFps,
    int? AverageLatencyMicroseconds,
    int? UtilizationPercent,
    IReadOnlyList<EncoderSession> Sessions);

/// <summary>One encode session.</summary>
public sealed record EncoderSession(int SessionId, int Pid, string Codec, int Width, int Height, int AverageFps, int AverageLatencyMicroseconds);

public enum NvencLimitSource
{
    /// <summary>No limit applies (unsupported GPU, or professional card).</summary>
    None,

    /// <summary>The consumer limit of the running driver branch.</summary>
    DriverTable,

    /// <summary>A professional model known to carry the consumer limit.</summary>
    Model,

    /// <summary><c>GpuLxc:Nvenc:LimitOverride</c>.</summary>
    Override,
}
