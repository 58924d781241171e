using System.Collections.Concurrent;
using System.Globalization;
using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Tests.Support;

/// <summary>
/// An NVML that reports the GPUs a test gives it and the encode sessions the test sets, which may change while the
/// service runs. A session is a host PID; the test puts that PID's cgroup file in the host tree to place it in a
/// container (or leaves it out: unattributed). Sessions NVML counts but does not list are <c>unlisted</c>.
/// </summary>
internal sealed class EncoderNvml(string driverVersion, params NvmlDevice[] devices) : INvml
{
    private readonly ConcurrentDictionary<int, (int[] Pids, int Unlisted)> _sessions = new();

    public string? UnavailableReason => null;

    public string? DriverVersion() => driverVersion;

    public IReadOnlyList<NvmlDevice> Devices() => devices;

    public NvmlEncoderLive? Encoder(int index)
    {
        var (pids, unlisted) = _sessions.GetValueOrDefault(index, ([], 0));
        return new NvmlEncoderLive(pids.Length + unlisted, 30, 1000, 10,
            pids.Select((pid, i) => new NvmlEncoderSession(i + 1, pid, "h264", 1920, 1080, 30, 1000)).ToList());
    }

    /// <summary>From now on the GPU at <paramref name="index"/> runs these sessions.</summary>
    public EncoderNvml Encoding(int index, int[] pids, int unlisted = 0)
    {
        _sessions[index] = (pids, unlisted);
        return this;
    }

    /// <summary>A GeForce (NVML brand 5) at PCI address 0000:0N:00.0, N = index + 1.</summary>
    public static NvmlDevice GeForce(int index, string name) =>
        new(index, name, string.Create(CultureInfo.InvariantCulture, $"GPU-0000beef-0000-4000-8000-{index:D12}"), Brand: 5, Minor: index,
            string.Create(CultureInfo.InvariantCulture, $"00000000:{index + 1:x2}:00.0"), EncoderCapacityH264: 100);

    /// <summary>The PCI address <see cref="GeForce"/> gives the GPU at <paramref name="index"/>.</summary>
    public static string Address(int index) => string.Create(CultureInfo.InvariantCulture, $"0000:{index + 1:x2}:00.0");
}
