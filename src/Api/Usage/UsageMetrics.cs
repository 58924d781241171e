using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Nvenc;
using Prometheus;

namespace GpuLxc.Api.Usage;

/// <summary>
/// GPU use per container and GPU, and each GPU's totals, on <c>/metrics</c> (<c>gpulxc_container_gpu_memory_bytes{container,gpu}</c>,
/// <c>gpulxc_gpu_memory_used_bytes{gpu}</c>, …), so that one scrape replaces a separate GPU exporter. Labels are
/// bounded: containers, GPUs and fixed names, never PIDs. Before each collection the registry asks
/// <see cref="GpuUsageReader"/> for the current reading (one shared NVML sweep, kept briefly) and every series is set
/// from it; a series whose container no longer runs anything on the GPU is removed, not left at its last value.
/// </summary>
/// <remarks>
/// These are prometheus-net gauges rather than <see cref="System.Diagnostics.Metrics"/> instruments: the meter adapter
/// keeps a label set it has seen until it expires, so a container that stopped would go on being reported.
/// </remarks>
public sealed class UsageMetrics
{
    private static readonly string[] ContainerLabels = ["container", "gpu"];
    private static readonly string[] GpuLabels = ["gpu"];

    private readonly List<Series> _series = [];

    public UsageMetrics(CollectorRegistry registry, GpuUsageReader reader)
    {
        var metrics = Prometheus.Metrics.WithCustomRegistry(registry);

        void PerContainer(string name, string help, Func<ContainerGpuShare, double?> value) =>
            _series.Add(new Series(metrics.CreateGauge(name, help, ContainerLabels), reading =>
                from gpu in reading.Gpus
                from container in gpu.Processes.Where(p => p.ContainerId is not null).GroupBy(p => p.ContainerId!, StringComparer.Ordinal)
                let share = ContainerGpuShare.Of(gpu, [.. container])
                where value(share) is not null
                select (new[] { container.Key, gpu.PciAddress }, value(share)!.Value)));

        void PerGpu(string name, string help, Func<NvmlTotals, double?> value) =>
            _series.Add(new Series(metrics.CreateGauge(name, help, GpuLabels), reading =>
                from gpu in reading.Gpus
                where value(gpu.Totals) is not null
                select (new[] { gpu.PciAddress }, value(gpu.Totals)!.Value)));

        PerContainer("gpulxc_container_gpu_memory_bytes", "GPU memory the container's processes hold on the GPU, bytes", s => s.UsedMemoryBytes);
        PerContainer("gpulxc_container_gpu_sm_utilization", "SM share of the container's processes, percent (where the driver gives per-process figures)", s => s.SmPercent);
        PerContainer("gpulxc_container_gpu_encoder_utilization", "Encoder share of the container's processes, percent", s => s.EncoderPercent);
        PerContainer("gpulxc_container_gpu_decoder_utilization", "Decoder share of the container's processes, percent", s => s.DecoderPercent);
        PerContainer("gpulxc_container_gpu_encoder_sessions", "NVENC sessions the container's processes hold", s => s.EncoderSessions);
        PerContainer("gpulxc_container_gpu_fbc_sessions", "Frame-buffer capture sessions the container's processes hold", s => s.FbcSessions);
        PerContainer("gpulxc_container_gpu_processes", "The container's processes on the GPU", s => s.Processes.Count);
        _series.Add(new Series(
            metrics.CreateGauge("gpulxc_gpu_unattributed_memory_bytes",
                "GPU memory of processes in no container, bytes: on the host, exited before attribution, or not attributable", ["gpu", "owner"]),
            reading =>
                from gpu in reading.Gpus
                from owner in new[] { ProcessOwnerKind.Host, ProcessOwnerKind.Exited, ProcessOwnerKind.Unknown }
                select (new[] { gpu.PciAddress, System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(owner.ToString()) },
                    (double)gpu.Processes.Where(p => p.Owner == owner).Sum(p => p.UsedMemoryBytes ?? 0))));
        PerGpu("gpulxc_gpu_memory_total_bytes", "The GPU's framebuffer memory, bytes", t => t.MemoryTotalBytes);
        PerGpu("gpulxc_gpu_memory_used_bytes", "Framebuffer memory in use, the driver's own reservation included, bytes", t => t.MemoryUsedBytes);
        PerGpu("gpulxc_gpu_utilization", "Time a kernel ran over the driver's sample period, percent", t => t.UtilizationPercent);
        PerGpu("gpulxc_gpu_memory_utilization", "Time memory was read or written over the same period, percent", t => t.MemoryUtilizationPercent);
        PerGpu("gpulxc_gpu_decoder_utilization", "Decoder use, percent", t => t.DecoderUtilizationPercent);
        PerGpu("gpulxc_gpu_temperature_celsius", "GPU core temperature, degrees Celsius", t => t.TemperatureCelsius);
        PerGpu("gpulxc_gpu_power_watts", "Board power draw, watts", t => t.PowerMilliwatts / 1000.0);
        _series.Add(new Series(metrics.CreateGauge("gpulxc_gpu_clock_mhz", "Current clocks of the GPU, MHz", ["gpu", "clock"]), reading =>
            from gpu in reading.Gpus
            from clock in new (string Name, int? Mhz)[]
            {
                ("graphics", gpu.Totals.GraphicsClockMhz), ("sm", gpu.Totals.SmClockMhz), ("memory", gpu.Totals.MemoryClockMhz), ("video", gpu.Totals.VideoClockMhz),
            }
            where clock.Mhz is not null
            select (new[] { gpu.PciAddress, clock.Name }, (double)clock.Mhz!.Value)));

        registry.AddBeforeCollectCallback(async cancellationToken => Set(await reader.ReadAsync(cancellationToken)));
    }

    private void Set(UsageReading reading)
    {
        lock (_series)
        {
            foreach (var series in _series)
            {
                series.Set(reading);
            }
        }
    }

    /// <summary>One gauge, how its values follow from a reading, and the label sets it reported last time.</summary>
    private sealed class Series(Gauge gauge, Func<UsageReading, IEnumerable<(string[] Labels, double Value)>> values)
    {
        private HashSet<string> _reported = [];

        public void Set(UsageReading reading)
        {
            var now = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (labels, value) in values(reading))
            {
                gauge.WithLabels(labels).Set(value);
                now.Add(string.Join('\n', labels));
            }

            foreach (var gone in _reported.Where(key => !now.Contains(key)))
            {
                gauge.RemoveLabelled(gone.Split('\n'));
            }

            _reported = now;
        }
    }
}
