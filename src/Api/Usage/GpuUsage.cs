using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Nvenc;

namespace GpuLxc.Api.Usage;

/// <summary>Who uses one GPU (<c>GET /api/v1/gpus/{gpuId}/processes</c>), from one NVML sweep.</summary>
/// <param name="Index">NVML's index of the GPU.</param>
/// <param name="Uuid">The GPU's UUID.</param>
/// <param name="PciAddress">The GPU's PCI address, as <c>GET /api/v1/gpus</c> gives it.</param>
/// <param name="SampledAt">When NVML was read; every figure is from that sweep.</param>
/// <param name="Totals">The GPU's own figures: memory, utilisation, temperature, power, clocks.</param>
/// <param name="Processes">Every process with a context on the GPU, ordered by PID.</param>
/// <param name="Notes">Why a figure is unknown.</param>
public sealed record GpuProcesses(
    int Index,
    string? Uuid,
    string PciAddress,
    DateTimeOffset SampledAt,
    NvmlTotals Totals,
    IReadOnlyList<GpuProcess> Processes,
    IReadOnlyList<string> Notes);

/// <summary>One process on a GPU and who runs it.</summary>
/// <param name="Pid">The host PID (the driver does not know PID namespaces: inside its container the process has another).</param>
/// <param name="Owner">
/// <c>container</c>; <c>host</c> (outside every container); <c>exited</c> (it ended between NVML's list and the read of its
/// <c>/proc/&lt;pid&gt;/cgroup</c>); <c>unknown</c> (that file could not be read).
/// </param>
/// <param name="ContainerId">The container (Proxmox vmid or LXC name) when <paramref name="Owner"/> is <c>container</c>.</param>
/// <param name="Compute">It has a compute (CUDA, OpenCL, NVENC through CUDA) context.</param>
/// <param name="Graphics">It has a graphics context.</param>
/// <param name="UsedMemoryBytes">GPU memory it holds, in bytes; null when the driver withholds it.</param>
/// <param name="SmPercent">Its share of the SMs over NVML's last sampling interval, percent; null where the driver gives no per-process figures.</param>
/// <param name="MemoryPercent">Its share of memory bandwidth, percent; null likewise.</param>
/// <param name="EncoderPercent">Its share of the encoder, percent; null likewise.</param>
/// <param name="DecoderPercent">Its share of the decoder, percent; null likewise.</param>
/// <param name="EncoderSessions">NVENC sessions it holds.</param>
/// <param name="FbcSessions">Frame-buffer capture sessions it holds.</param>
public sealed record GpuProcess(
    int Pid,
    ProcessOwnerKind Owner,
    string? ContainerId,
    bool Compute,
    bool Graphics,
    long? UsedMemoryBytes,
    int? SmPercent,
    int? MemoryPercent,
    int? EncoderPercent,
    int? DecoderPercent,
    int EncoderSessions,
    int FbcSessions);

/// <summary>What one container uses of the host's GPUs (<c>GET /api/v1/containers/{containerId}/gpu/usage</c>).</summary>
/// <param name="ContainerId">The container.</param>
/// <param name="SampledAt">When NVML was read.</param>
/// <param name="UsedMemoryBytes">GPU memory its processes hold on every GPU together, in bytes.</param>
/// <param name="EncoderSessions">NVENC sessions its processes hold, every GPU together.</param>
/// <param name="FbcSessions">Frame-buffer capture sessions, likewise.</param>
/// <param name="Gpus">Each GPU it has a process on.</param>
/// <param name="Notes">Why a figure is unknown.</param>
public sealed record ContainerGpuUsage(
    string ContainerId,
    DateTimeOffset SampledAt,
    long UsedMemoryBytes,
    int EncoderSessions,
    int FbcSessions,
    IReadOnlyList<ContainerGpuShare> Gpus,
    IReadOnlyList<string> Notes);

/// <summary>A container's use of one GPU: the sums over its processes there.</summary>
/// <param name="Index">NVML's index of the GPU.</param>
/// <param name="Uuid">The GPU's UUID.</param>
/// <param name="PciAddress">The GPU's PCI address.</param>
/// <param name="UsedMemoryBytes">GPU memory its processes hold, bytes.</param>
/// <param name="SmPercent">Their SM share, percent; null where the driver gives no per-process figures.</param>
/// <param name="EncoderPercent">Their encoder share, percent; null likewise.</param>
/// <param name="DecoderPercent">Their decoder share, percent; null likewise.</param>
/// <param name="EncoderSessions">NVENC sessions.</param>
/// <param name="FbcSessions">Frame-buffer capture sessions.</param>
/// <param name="Processes">The processes themselves.</param>
public sealed record ContainerGpuShare(
    int Index,
    string? Uuid,
    string PciAddress,
    long UsedMemoryBytes,
    int? SmPercent,
    int? EncoderPercent,
    int? DecoderPercent,
    int EncoderSessions,
    int FbcSessions,
    IReadOnlyList<GpuProcess> Processes)
{
    /// <summary>The sums over <paramref name="processes"/>, all of one container, on <paramref name="gpu"/>.</summary>
    public static ContainerGpuShare Of(GpuProcesses gpu, IReadOnlyList<GpuProcess> processes)
    {
        // A GPU without per-process utilisation leaves every process's figure null: the sum is unknown, not 0.
        static int? Sum(IEnumerable<int?> values) => values.Any(v => v is not null) ? Math.Min(100, values.Sum(v => v ?? 0)) : null;
        return new ContainerGpuShare(gpu.Index, gpu.Uuid, gpu.PciAddress,
            processes.Sum(p => p.UsedMemoryBytes ?? 0),
            Sum(processes.Select(p => p.SmPercent)),
            Sum(processes.Select(p => p.EncoderPercent)),
            Sum(processes.Select(p => p.DecoderPercent)),
            processes.Sum(p => p.EncoderSessions),
            processes.Sum(p => p.FbcSessions),
            processes);
    }
}
