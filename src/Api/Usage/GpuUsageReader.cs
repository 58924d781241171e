using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Inventory;
using GpuLxc.Api.Nvenc;

namespace GpuLxc.Api.Usage;

/// <summary>Every GPU's processes from one NVML sweep, each attributed to its container.</summary>
/// <param name="SampledAt">When NVML was read.</param>
/// <param name="Gpus">Each GPU NVML reports, in index order.</param>
/// <param name="Notes">Why nothing or less is known (NVML unavailable).</param>
public sealed record UsageReading(DateTimeOffset SampledAt, IReadOnlyList<GpuProcesses> Gpus, IReadOnlyList<string> Notes)
{
    /// <summary>What <paramref name="containerId"/> uses: the GPUs it has a process on, with the sums.</summary>
    public ContainerGpuUsage Of(string containerId)
    {
        var shares = Gpus
            .Select(gpu => (Gpu: gpu, Processes: gpu.Processes.Where(p => p.ContainerId == containerId).ToList()))
            .Where(pair => pair.Processes.Count > 0)
            .Select(pair => ContainerGpuShare.Of(pair.Gpu, pair.Processes))
            .ToList();
        return new ContainerGpuUsage(containerId, SampledAt, shares.Sum(s => s.UsedMemoryBytes), shares.Sum(s => s.EncoderSessions),
            shares.Sum(s => s.FbcSessions), shares, Notes);
    }
}

/// <summary>
/// Attributes each PID of the shared <see cref="NvmlSweep"/> to its container through <see cref="SessionAttribution"/>
/// (<c>/proc/&lt;pid&gt;/cgroup</c>). The attributed reading is kept with the sweep it came from: the API and the
/// scrape read NVML and <c>/proc</c> once per sweep. A PID's owner is kept from one sweep to the next while NVML
/// goes on listing it: a process does not leave its container, and its PID cannot be reused while it runs.
/// </summary>
public sealed class GpuUsageReader(NvmlSweep sweep, INvml nvml, SessionAttribution attribution) : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private (NvmlSweepResult Sweep, UsageReading Reading)? _last;
    private Dictionary<int, ProcessOwner> _owners = [];

    /// <summary>The last reading taken (what <c>/metrics</c> reports), or null before the first.</summary>
    public UsageReading? Last => _last?.Reading;

    /// <summary>The reading of the current sweep: the kept one while the sweep is the same, else attributed now.</summary>
    public async Task<UsageReading> ReadAsync(CancellationToken cancellationToken)
    {
        var current = sweep.Current();
        if (_last is { } kept && ReferenceEquals(kept.Sweep, current))
        {
            return kept.Reading;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            current = sweep.Current();
            if (_last is { } again && ReferenceEquals(again.Sweep, current))
            {
                return again.Reading;
            }

            var reading = await AttributeAsync(current, cancellationToken);
            _last = (current, reading);
            return reading;
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose() => _gate.Dispose();

    private async Task<UsageReading> AttributeAsync(NvmlSweepResult current, CancellationToken cancellationToken)
    {
        if (nvml.UnavailableReason is { } reason)
        {
            return new UsageReading(current.SampledAt, [], [$"NVML: {reason} Per-process GPU use is known only through NVML."]);
        }

        var known = _owners;
        var owners = new Dictionary<int, ProcessOwner>();
        var gpus = new List<GpuProcesses>(current.Devices.Count);
        foreach (var sample in current.Devices)
        {
            var processes = new List<GpuProcess>();
            foreach (var pid in Pids(sample))
            {
                if (!owners.TryGetValue(pid, out var owner))
                {
                    // Exited and unknown are asked again: only a PID that was read is known.
                    owner = known.TryGetValue(pid, out var kept) && kept.Kind is ProcessOwnerKind.Container or ProcessOwnerKind.Host
                        ? kept
                        : await attribution.OwnerOfAsync(pid, cancellationToken);
                    owners[pid] = owner;
                }

                processes.Add(Describe(sample, pid, owner));
            }

            var notes = sample.Utilization is null
                ? new List<string> { "The driver gives no per-process utilisation on this GPU (nvmlDeviceGetProcessUtilization)." }
                : [];
            gpus.Add(new GpuProcesses(sample.Index, sample.Uuid, PciAddress.Normalize(sample.PciBusId) ?? sample.PciBusId, current.SampledAt,
                sample.Totals, processes, notes));
        }

        _owners = owners;
        return new UsageReading(current.SampledAt, gpus, []);
    }

    /// <summary>Every PID the sweep names on the device: with a context, a utilisation sample or a session.</summary>
    private static IEnumerable<int> Pids(NvmlSample sample) =>
        sample.Processes.Select(p => p.Pid)
            .Concat(sample.Utilization?.Select(u => u.Pid) ?? [])
            .Concat(sample.Encoder?.Sessions.Select(s => s.Pid) ?? [])
            .Concat(sample.FbcSessions.Select(s => s.Pid))
            .Where(pid => pid > 0)
            .Distinct()
            .Order();

    private static GpuProcess Describe(NvmlSample sample, int pid, ProcessOwner owner)
    {
        var process = sample.Processes.FirstOrDefault(p => p.Pid == pid);
        // Per-process utilisation is known on this GPU: a process without a recent sample used nothing.
        var utilization = sample.Utilization is null ? null : sample.Utilization.FirstOrDefault(u => u.Pid == pid) ?? new NvmlProcessUtilization(pid, 0, 0, 0, 0);
        return new GpuProcess(pid, owner.Kind, owner.ContainerId,
            process?.Compute ?? false,
            process?.Graphics ?? false,
            process?.UsedMemoryBytes,
            utilization?.SmPercent,
            utilization?.MemoryPercent,
            utilization?.EncoderPercent,
            utilization?.DecoderPercent,
            sample.Encoder?.Sessions.Count(s => s.Pid == pid) ?? 0,
            sample.FbcSessions.Count(s => s.Pid == pid));
    }
}
