using System.Collections.Concurrent;
using System.Globalization;
using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Tests.Support;

/// <summary>
/// An NVML that reports the GPUs a test gives it and the encode sessions, processes and totals the test sets, which
/// may change while the service runs. A session or a process is a host PID; the test puts that PID's cgroup file in
/// the host tree to place it in a container (or leaves it out: unattributed). Sessions NVML counts but does not list
/// are <c>unlisted</c>. It counts its sweeps, so that a test can hold the service to one sweep shared by every reader.
/// </summary>
internal sealed class EncoderNvml(string driverVersion, params NvmlDevice[] devices) : INvml
{
    private readonly ConcurrentDictionary<int, (int[] Pids, int Unlisted)> _sessions = new();
    private readonly ConcurrentDictionary<int, (NvmlProcess[] Processes, NvmlProcessUtilization[]? Utilization, NvmlTotals Totals)> _use = new();
    private int _sweeps;

    public string? UnavailableReason => null;

    /// <summary>How many sweeps (<see cref="Sample"/> calls) the service made.</summary>
    public int Sweeps => Volatile.Read(ref _sweeps);

    public string? DriverVersion() => driverVersion;

    public IReadOnlyList<NvmlDevice> Devices() => devices;

    public IReadOnlyList<NvmlSample> Sample()
    {
        Interlocked.Increment(ref _sweeps);
        return devices.Select(device =>
        {
            var (pids, unlisted) = _sessions.GetValueOrDefault(device.Index, ([], 0));
            var (processes, utilization, totals) = _use.GetValueOrDefault(device.Index, ([], [], NvmlTotals.Unknown));
            var encoder = new NvmlEncoderLive(pids.Length + unlisted, 30, 1000, 10,
                pids.Select((pid, i) => new NvmlEncoderSession(i + 1, pid, "h264", 1920, 1080, 30, 1000)).ToList());
            return new NvmlSample(device.Index, device.Uuid, device.PciBusId, processes, utilization, encoder, [], totals);
        }).ToList();
    }

    /// <summary>From now on the GPU at <paramref name="index"/> runs these sessions.</summary>
    public EncoderNvml Encoding(int index, int[] pids, int unlisted = 0)
    {
        _sessions[index] = (pids, unlisted);
        return this;
    }

    /// <summary>
    /// From now on the GPU at <paramref name="index"/> runs these processes, with this per-process utilisation (null:
    /// the driver gives none) and these totals.
    /// </summary>
    public EncoderNvml Running(int index, NvmlProcess[] processes, NvmlProcessUtilization[]? utilization = null, NvmlTotals? totals = null)
    {
        _use[index] = (processes, utilization, totals ?? NvmlTotals.Unknown);
        return this;
    }

    /// <summary>A GeForce (NVML brand 5) at PCI address 0000:0N:00.0, N = index + 1.</summary>
    public static NvmlDevice GeForce(int index, string name) =>
        new(index, name, string.Create(CultureInfo.InvariantCulture, $"GPU-0000beef-0000-4000-8000-{index:D12}"), Brand: 5, Minor: index,
            string.Create(CultureInfo.InvariantCulture, $"00000000:{index + 1:x2}:00.0"), EncoderCapacityH264: 100);

    /// <summary>The PCI address <see cref="GeForce"/> gives the GPU at <paramref name="index"/>.</summary>
    public static string Address(int index) => string.Create(CultureInfo.InvariantCulture, $"0000:{index + 1:x2}:00.0");
}
