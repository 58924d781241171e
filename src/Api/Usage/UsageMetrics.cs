using System.Diagnostics.Metrics;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Metrics;
using GpuLxc.Api.Nvenc;

namespace GpuLxc.Api.Usage;

/// <summary>
/// GPU use per container and GPU, and each GPU's totals, as gauges on the <c>GpuLxc</c> meter (<c>/metrics</c>:
/// <c>gpulxc_container_gpu_memory_bytes{container,gpu}</c>, <c>gpulxc_gpu_memory_used_bytes{gpu}</c>, …), so that one
/// scrape replaces a separate GPU exporter. Labels are bounded: containers and GPUs, never PIDs. They report
/// <see cref="GpuUsageReader.Last"/>, which the <c>/metrics</c> endpoint brings up to date before each scrape.
/// </summary>
public sealed class UsageMetrics
{
    // The meter is the factory's (GpuLxcMetrics creates the same one): the factory disposes it.
    public UsageMetrics(IMeterFactory meters, GpuUsageReader reader)
    {
        var meter = meters.Create(GpuLxcMetrics.MeterName);

        IEnumerable<Measurement<T>> PerContainer<T>(Func<ContainerGpuShare, T?> value)
            where T : struct =>
            from gpu in reader.Last?.Gpus ?? []
            from container in gpu.Processes.Where(p => p.ContainerId is not null).GroupBy(p => p.ContainerId!, StringComparer.Ordinal)
            let share = ContainerGpuShare.Of(gpu, [.. container])
            where value(share) is not null
            select new Measurement<T>(value(share)!.Value, new("container", container.Key), new("gpu", gpu.PciAddress));

        IEnumerable<Measurement<T>> PerGpu<T>(Func<NvmlTotals, T?> value)
            where T : struct =>
            from gpu in reader.Last?.Gpus ?? []
            where value(gpu.Totals) is not null
            select new Measurement<T>(value(gpu.Totals)!.Value, new KeyValuePair<string, object?>("gpu", gpu.PciAddress));

        meter.CreateObservableGauge("container_gpu_memory_bytes", () => PerContainer<long>(s => s.UsedMemoryBytes),
            unit: "By", description: "GPU memory the container's processes hold on the GPU");
        meter.CreateObservableGauge("container_gpu_sm_utilization", () => PerContainer(s => s.SmPercent),
            unit: "%", description: "SM share of the container's processes (per-process figures where the driver gives them)");
        meter.CreateObservableGauge("container_gpu_encoder_utilization", () => PerContainer(s => s.EncoderPercent),
            unit: "%", description: "Encoder share of the container's processes");
        meter.CreateObservableGauge("container_gpu_decoder_utilization", () => PerContainer(s => s.DecoderPercent),
            unit: "%", description: "Decoder share of the container's processes");
        meter.CreateObservableGauge("container_gpu_encoder_sessions", () => PerContainer<int>(s => s.EncoderSessions),
            unit: "{session}", description: "NVENC sessions the container's processes hold");
        meter.CreateObservableGauge("container_gpu_fbc_sessions", () => PerContainer<int>(s => s.FbcSessions),
            unit: "{session}", description: "Frame-buffer capture sessions the container's processes hold");
        meter.CreateObservableGauge("container_gpu_processes", () => PerContainer<int>(s => s.Processes.Count),
            unit: "{process}", description: "The container's processes on the GPU");
        meter.CreateObservableGauge("gpu_unattributed_memory_bytes", () =>
                from gpu in reader.Last?.Gpus ?? []
                from owner in new[] { ProcessOwnerKind.Host, ProcessOwnerKind.Exited, ProcessOwnerKind.Unknown }
                select new Measurement<long>(gpu.Processes.Where(p => p.Owner == owner).Sum(p => p.UsedMemoryBytes ?? 0),
                    new("gpu", gpu.PciAddress), new("owner", System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(owner.ToString()))),
            unit: "By", description: "GPU memory of processes in no container: on the host, ended before attribution, or not attributable");
        meter.CreateObservableGauge("gpu_memory_total_bytes", () => PerGpu(t => t.MemoryTotalBytes), unit: "By", description: "The GPU's framebuffer memory");
        meter.CreateObservableGauge("gpu_memory_used_bytes", () => PerGpu(t => t.MemoryUsedBytes), unit: "By",
            description: "Framebuffer memory in use, the driver's own reservation included");
        meter.CreateObservableGauge("gpu_utilization", () => PerGpu(t => t.UtilizationPercent), unit: "%", description: "Time a kernel ran, over the driver's sample period");
        meter.CreateObservableGauge("gpu_memory_utilization", () => PerGpu(t => t.MemoryUtilizationPercent), unit: "%",
            description: "Time memory was read or written, over the same period");
        meter.CreateObservableGauge("gpu_decoder_utilization", () => PerGpu(t => t.DecoderUtilizationPercent), unit: "%", description: "Decoder use of each GPU");
        meter.CreateObservableGauge("gpu_temperature_celsius", () => PerGpu(t => t.TemperatureCelsius), unit: "Cel", description: "GPU core temperature");
        meter.CreateObservableGauge("gpu_power_watts", () => PerGpu(t => t.PowerMilliwatts / 1000.0), unit: "W", description: "Board power draw");
        meter.CreateObservableGauge("gpu_clock_mhz", () =>
                from gpu in reader.Last?.Gpus ?? []
                from clock in new (string Name, int? Mhz)[]
                {
                    ("graphics", gpu.Totals.GraphicsClockMhz), ("sm", gpu.Totals.SmClockMhz), ("memory", gpu.Totals.MemoryClockMhz), ("video", gpu.Totals.VideoClockMhz),
                }
                where clock.Mhz is not null
                select new Measurement<int>(clock.Mhz!.Value, new("gpu", gpu.PciAddress), new("clock", clock.Name)),
            unit: "MHz", description: "Current clocks of each GPU");
    }
}
