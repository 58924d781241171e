using GpuLxc.Api.HostAccess;

namespace GpuLxc.Bench.Scrape;

/// <summary>
/// Two GPUs with <paramref name="processes"/> processes between them (host PIDs from <see cref="FirstPid"/>), each with
/// memory and a utilisation sample, every fifth holding an encode session; it counts its sweeps.
/// </summary>
internal sealed class BenchNvml(int processes) : INvml
{
    public const int FirstPid = 20_000;
    private int _sweeps;

    public int Sweeps => Volatile.Read(ref _sweeps);

    public string? UnavailableReason => null;

    public string? DriverVersion() => "580.159.04";

    public IReadOnlyList<NvmlDevice> Devices() =>
    [
        new(0, "NVIDIA GeForce RTX 3060", "GPU-0000beef-0000-4000-8000-000000000000", 5, 0, "00000000:01:00.0", 100),
        new(1, "NVIDIA GeForce RTX 3060", "GPU-0000beef-0000-4000-8000-000000000001", 5, 1, "00000000:02:00.0", 100),
    ];

    public IReadOnlyList<NvmlSample> Sample()
    {
        Interlocked.Increment(ref _sweeps);
        return [.. Enumerable.Range(0, 2).Select(index =>
        {
            var pids = Enumerable.Range(0, processes).Where(i => i % 2 == index).Select(i => FirstPid + i).ToList();
            var sessions = pids.Where(pid => pid % 5 == 0).Select((pid, i) => new NvmlEncoderSession(i + 1, pid, "hevc", 1920, 1080, 30, 900)).ToList();
            return new NvmlSample(index, Devices()[index].Uuid, Devices()[index].PciBusId,
                [.. pids.Select(pid => new NvmlProcess(pid, Compute: true, Graphics: pid % 3 == 0, (long)(pid % 7 + 1) << 28))],
                [.. pids.Select(pid => new NvmlProcessUtilization(pid, pid % 40, pid % 10, pid % 5 == 0 ? 12 : 0, 0))],
                new NvmlEncoderLive(sessions.Count, 30, 900, 40, sessions),
                [],
                new NvmlTotals(12L << 30, 9L << 30, 87, 40, 40, 0, 66, 170_000, 1800, 1800, 7500, 1600));
        })];
    }
}
