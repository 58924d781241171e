namespace GpuLxc.Api.HostAccess;

/// <summary>What one NVML sweep read of one device (<see cref="INvml.Sample"/>).</summary>
/// <param name="Index">NVML's device index.</param>
/// <param name="Uuid">The device's UUID (<c>nvmlDeviceGetUUID</c>).</param>
/// <param name="PciBusId">The device's PCI bus id as NVML writes it (<c>00000000:01:00.0</c>).</param>
/// <param name="Processes">Compute and graphics processes (host PIDs), one entry per PID.</param>
/// <param name="Utilization">
/// Per-process utilisation over NVML's last sampling interval (<c>nvmlDeviceGetProcessUtilization</c>), or null where
/// the GPU or driver does not give it.
/// </param>
/// <param name="Encoder">Encoder counters and sessions, or null when NVML cannot tell.</param>
/// <param name="FbcSessions">Frame-buffer capture sessions.</param>
/// <param name="Totals">The device's own figures.</param>
public sealed record NvmlSample(
    int Index,
    string Uuid,
    string PciBusId,
    IReadOnlyList<NvmlProcess> Processes,
    IReadOnlyList<NvmlProcessUtilization>? Utilization,
    NvmlEncoderLive? Encoder,
    IReadOnlyList<NvmlFbcSession> FbcSessions,
    NvmlTotals Totals);

/// <summary>A process with a context on the GPU.</summary>
/// <param name="Pid">Host PID: the driver does not know PID namespaces.</param>
/// <param name="Compute">Listed by <c>nvmlDeviceGetComputeRunningProcesses</c>.</param>
/// <param name="Graphics">Listed by <c>nvmlDeviceGetGraphicsRunningProcesses</c>.</param>
/// <param name="UsedMemoryBytes">GPU memory the process holds, in bytes; null when NVML withholds it (no permission, MIG).</param>
public sealed record NvmlProcess(int Pid, bool Compute, bool Graphics, long? UsedMemoryBytes);

/// <summary>A process's share of the GPU's engines over the last sampling interval, in percent.</summary>
public sealed record NvmlProcessUtilization(int Pid, int SmPercent, int MemoryPercent, int EncoderPercent, int DecoderPercent);

/// <summary>
/// One frame-buffer capture session (<c>nvmlFBCSessionInfo_t</c>); <see cref="Pid"/> is a host PID, <see cref="Type"/>
/// NVML's <c>nvmlFBCSessionType_t</c>: <c>unknown</c>, <c>toSys</c>, <c>cuda</c>, <c>vid</c>, <c>hwEnc</c>.
/// </summary>
public sealed record NvmlFbcSession(int SessionId, int Pid, string Type, int Width, int Height, int AverageFps, int AverageLatencyMicroseconds);

/// <summary>A device's own figures; each null when NVML does not give it on this GPU.</summary>
/// <param name="MemoryTotalBytes">Framebuffer memory, bytes (<c>nvmlDeviceGetMemoryInfo</c>).</param>
/// <param name="MemoryUsedBytes">Framebuffer memory in use, bytes, the driver's own reservation included.</param>
/// <param name="UtilizationPercent">Time a kernel ran over the last sample period (<c>nvmlDeviceGetUtilizationRates</c>).</param>
/// <param name="MemoryUtilizationPercent">Time memory was read or written over the same period.</param>
/// <param name="EncoderUtilizationPercent">Encoder engine use.</param>
/// <param name="DecoderUtilizationPercent">Decoder engine use.</param>
/// <param name="TemperatureCelsius">GPU core temperature.</param>
/// <param name="PowerMilliwatts">Board power draw.</param>
/// <param name="GraphicsClockMhz">Current graphics clock.</param>
/// <param name="SmClockMhz">Current SM clock.</param>
/// <param name="MemoryClockMhz">Current memory clock.</param>
/// <param name="VideoClockMhz">Current video (encoder/decoder) clock.</param>
public sealed record NvmlTotals(
    long? MemoryTotalBytes,
    long? MemoryUsedBytes,
    int? UtilizationPercent,
    int? MemoryUtilizationPercent,
    int? EncoderUtilizationPercent,
    int? DecoderUtilizationPercent,
    int? TemperatureCelsius,
    int? PowerMilliwatts,
    int? GraphicsClockMhz,
    int? SmClockMhz,
    int? MemoryClockMhz,
    int? VideoClockMhz)
{
    /// <summary>Nothing known.</summary>
    public static readonly NvmlTotals Unknown = new(null, null, null, null, null, null, null, null, null, null, null, null);
}
