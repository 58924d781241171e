using System.Runtime.InteropServices;

namespace GpuLxc.Api.HostAccess;

/// <summary>The sweep: what the driver reports about each device's use, read in one pass over the devices.</summary>
internal sealed unsafe partial class NvmlLibrary
{
    private const int NotFound = 6;
    private const ulong ValueNotAvailable = ulong.MaxValue;

    /// <summary>How far back per-process utilisation samples are taken from: NVML buffers a few seconds of them.</summary>
    private static readonly TimeSpan UtilizationWindow = TimeSpan.FromSeconds(1);

    public IReadOnlyList<NvmlSample> Sample()
    {
        if (_api.Value is not { } api)
        {
            return [];
        }

        uint count;
        if (api.DeviceGetCount(&count) != Success)
        {
            return [];
        }

        var samples = new List<NvmlSample>((int)count);
        var text = stackalloc byte[96];
        var pci = stackalloc byte[68];
        for (uint index = 0; index < count; index++)
        {
            nint device;
            if (api.DeviceGetHandleByIndex(index, &device) == Success)
            {
                var uuid = api.DeviceGetUuid(device, text, 96) == Success ? Text(text) : "";
                // nvmlPciInfo_t: busId at offset 36, as in Devices().
                var busId = api.DeviceGetPciInfo(device, pci) == Success ? Text(pci + 36) : "";
                samples.Add(new NvmlSample((int)index, uuid, busId, Processes(api, device), ProcessUtilization(api, device), Encoder(api, device),
                    FbcSessions(api, device), Totals(api, device)));
            }
        }

        return samples;
    }

    private static NvmlEncoderLive? Encoder(Api api, nint device)
    {
        uint sessionCount, averageFps, averageLatency;
        if (api.DeviceGetEncoderStats(device, &sessionCount, &averageFps, &averageLatency) != Success)
        {
            return null;
        }

        uint utilization, samplingPeriod;
        int? utilizationPercent = api.DeviceGetEncoderUtilization(device, &utilization, &samplingPeriod) == Success ? (int)utilization : null;
        return new NvmlEncoderLive((int)sessionCount, (int)averageFps, (int)averageLatency, utilizationPercent, EncoderSessions(api, device));
    }

    /// <summary>Compute and graphics processes merged by PID (a process with both contexts holds one memory figure).</summary>
    private static List<NvmlProcess> Processes(Api api, nint device)
    {
        var byPid = new Dictionary<int, NvmlProcess>();
        foreach (var (pid, memory) in RunningProcesses(api, device, graphics: false))
        {
            byPid[pid] = new NvmlProcess(pid, Compute: true, Graphics: false, memory);
        }

        foreach (var (pid, memory) in RunningProcesses(api, device, graphics: true))
        {
            byPid[pid] = byPid.TryGetValue(pid, out var both)
                ? both with { Graphics = true, UsedMemoryBytes = both.UsedMemoryBytes ?? memory }
                : new NvmlProcess(pid, Compute: false, Graphics: true, memory);
        }

        return [.. byPid.Values.OrderBy(p => p.Pid)];
    }

    /// <summary>
    /// nvmlProcessInfo_t (v2 and v3): unsigned int pid; unsigned long long usedGpuMemory; unsigned int gpuInstanceId,
    /// computeInstanceId: 24 bytes. The list is asked for twice at most: its size first, then the entries.
    /// </summary>
    private static List<(int Pid, long? Memory)> RunningProcesses(Api api, nint device, bool graphics)
    {
        const int size = 24;
        int List(uint* count, byte* infos) => graphics
            ? api.DeviceGetGraphicsRunningProcesses(device, count, infos)
            : api.DeviceGetComputeRunningProcesses(device, count, infos);

        uint count = 0;
        // Success with a count of 0: no process; any other answer than "insufficient size": the list is not available.
        if (List(&count, null) != InsufficientSize)
        {
            return [];
        }

        // Room for processes that start between the two calls.
        count += 8;
        var buffer = new byte[count * size];
        fixed (byte* infos = buffer)
        {
            if (List(&count, infos) != Success)
            {
                return [];
            }

            var processes = new List<(int, long?)>((int)count);
            for (var i = 0; i < count; i++)
            {
                var info = infos + (i * size);
                var memory = *(ulong*)(info + 8);
                processes.Add(((int)*(uint*)info, memory == ValueNotAvailable ? null : (long)memory));
            }

            return processes;
        }
    }

    /// <summary>
    /// nvmlProcessUtilizationSample_t: unsigned int pid; unsigned long long timeStamp; unsigned int smUtil, memUtil,
    /// encUtil, decUtil: 32 bytes. NVML returns every buffered sample newer than the time given; the newest per PID counts.
    /// </summary>
    private static List<NvmlProcessUtilization>? ProcessUtilization(Api api, nint device)
    {
        const int size = 32;
        if (!api.HasProcessUtilization)
        {
            return null;
        }

        var since = (ulong)(DateTimeOffset.UtcNow - UtilizationWindow).ToUnixTimeMilliseconds() * 1000;
        uint count = 0;
        var result = api.DeviceGetProcessUtilization(device, null, &count, since);
        if (result == NotFound || (result == Success && count == 0))
        {
            return [];
        }

        if (result != InsufficientSize)
        {
            return null;
        }

        count += 8;
        var buffer = new byte[count * size];
        fixed (byte* samples = buffer)
        {
            result = api.DeviceGetProcessUtilization(device, samples, &count, since);
            if (result == NotFound)
            {
                return [];
            }

            if (result != Success)
            {
                return null;
            }

            var newest = new Dictionary<int, (ulong At, NvmlProcessUtilization Value)>();
            for (var i = 0; i < count; i++)
            {
                var sample = samples + (i * size);
                var pid = (int)*(uint*)sample;
                var at = *(ulong*)(sample + 8);
                var values = (uint*)(sample + 16);
                if (!newest.TryGetValue(pid, out var seen) || at > seen.At)
                {
                    newest[pid] = (at, new NvmlProcessUtilization(pid, (int)values[0], (int)values[1], (int)values[2], (int)values[3]));
                }
            }

            return [.. newest.Values.Select(v => v.Value).OrderBy(v => v.Pid)];
        }
    }

    /// <summary>
    /// nvmlFBCSessionInfo_t: sessionId, pid, vgpuInstance, displayOrdinal, sessionType, sessionFlags, hMaxResolution,
    /// vMaxResolution, hResolution, vResolution, averageFPS, averageLatency: twelve 32-bit fields.
    /// </summary>
    private static List<NvmlFbcSession> FbcSessions(Api api, nint device)
    {
        if (!api.HasFbcSessions)
        {
            return [];
        }

        var infos = stackalloc uint[MaxSessions * 12];
        uint count = MaxSessions;
        var result = api.DeviceGetFbcSessions(device, &count, infos);
        if (result is not Success and not InsufficientSize)
        {
            return [];
        }

        var sessions = new List<NvmlFbcSession>((int)Math.Min(count, MaxSessions));
        for (var i = 0; i < Math.Min(count, MaxSessions); i++)
        {
            var info = infos + (i * 12);
            sessions.Add(new NvmlFbcSession((int)info[0], (int)info[1], FbcType(info[4]), (int)info[8], (int)info[9], (int)info[10], (int)info[11]));
        }

        return sessions;
    }

    private static string FbcType(uint type) => type switch
    {
        1 => "toSys",
        2 => "cuda",
        3 => "vid",
        4 => "hwEnc",
        _ => "unknown",
    };

    private static NvmlTotals Totals(Api api, nint device)
    {
        // nvmlMemory_t: unsigned long long total, free, used; nvmlUtilization_t: unsigned int gpu, memory.
        var memory = stackalloc ulong[3];
        var hasMemory = api.DeviceGetMemoryInfo(device, memory) == Success;
        var rates = stackalloc uint[2];
        var hasRates = api.DeviceGetUtilizationRates(device, rates) == Success;
        uint value, period;
        int? decoder = api.DeviceGetDecoderUtilization(device, &value, &period) == Success ? (int)value : null;
        int? encoder = api.DeviceGetEncoderUtilization(device, &value, &period) == Success ? (int)value : null;
        int? temperature = api.DeviceGetTemperature(device, 0, &value) == Success ? (int)value : null;
        int? power = api.DeviceGetPowerUsage(device, &value) == Success ? (int)value : null;
        // nvmlClockType_t: graphics 0, SM 1, memory 2, video 3.
        var clocks = new int?[4];
        for (var type = 0; type < clocks.Length; type++)
        {
            clocks[type] = api.DeviceGetClockInfo(device, type, &value) == Success ? (int)value : null;
        }

        return new NvmlTotals(
            hasMemory ? (long)memory[0] : null,
            hasMemory ? (long)memory[2] : null,
            hasRates ? (int)rates[0] : null,
            hasRates ? (int)rates[1] : null,
            encoder,
            decoder,
            temperature,
            power,
            clocks[0],
            clocks[1],
            clocks[2],
            clocks[3]);
    }

    /// <summary>
    /// The sweep's functions. Bound optionally: a driver that lacks one (the process lists' _v3 came with R510) still
    /// gives the rest.
    /// </summary>
    private sealed partial class Api
    {
        private readonly delegate* unmanaged<nint, uint*, byte*, int> _computeProcesses =
            (delegate* unmanaged<nint, uint*, byte*, int>)OptionalExport(library, "nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetComputeRunningProcesses_v2");
        private readonly delegate* unmanaged<nint, uint*, byte*, int> _graphicsProcesses =
            (delegate* unmanaged<nint, uint*, byte*, int>)OptionalExport(library, "nvmlDeviceGetGraphicsRunningProcesses_v3", "nvmlDeviceGetGraphicsRunningProcesses_v2");
        private readonly delegate* unmanaged<nint, byte*, uint*, ulong, int> _processUtilization =
            (delegate* unmanaged<nint, byte*, uint*, ulong, int>)OptionalExport(library, "nvmlDeviceGetProcessUtilization");
        private readonly delegate* unmanaged<nint, uint*, uint*, int> _fbcSessions =
            (delegate* unmanaged<nint, uint*, uint*, int>)OptionalExport(library, "nvmlDeviceGetFBCSessions");
        private readonly delegate* unmanaged<nint, ulong*, int> _memoryInfo = (delegate* unmanaged<nint, ulong*, int>)OptionalExport(library, "nvmlDeviceGetMemoryInfo");
        private readonly delegate* unmanaged<nint, uint*, int> _utilizationRates = (delegate* unmanaged<nint, uint*, int>)OptionalExport(library, "nvmlDeviceGetUtilizationRates");
        private readonly delegate* unmanaged<nint, uint*, uint*, int> _decoderUtilization =
            (delegate* unmanaged<nint, uint*, uint*, int>)OptionalExport(library, "nvmlDeviceGetDecoderUtilization");
        private readonly delegate* unmanaged<nint, int, uint*, int> _temperature = (delegate* unmanaged<nint, int, uint*, int>)OptionalExport(library, "nvmlDeviceGetTemperature");
        private readonly delegate* unmanaged<nint, uint*, int> _powerUsage = (delegate* unmanaged<nint, uint*, int>)OptionalExport(library, "nvmlDeviceGetPowerUsage");
        private readonly delegate* unmanaged<nint, int, uint*, int> _clockInfo = (delegate* unmanaged<nint, int, uint*, int>)OptionalExport(library, "nvmlDeviceGetClockInfo");

        private const int NotSupported = 3;

        public bool HasProcessUtilization => _processUtilization != null;

        public bool HasFbcSessions => _fbcSessions != null;

        public int DeviceGetComputeRunningProcesses(nint device, uint* count, byte* infos) =>
            _computeProcesses == null ? NotSupported : _computeProcesses(device, count, infos);

        public int DeviceGetGraphicsRunningProcesses(nint device, uint* count, byte* infos) =>
            _graphicsProcesses == null ? NotSupported : _graphicsProcesses(device, count, infos);

        public int DeviceGetProcessUtilization(nint device, byte* samples, uint* count, ulong lastSeen) => _processUtilization(device, samples, count, lastSeen);

        public int DeviceGetFbcSessions(nint device, uint* count, uint* infos) => _fbcSessions(device, count, infos);

        public int DeviceGetMemoryInfo(nint device, ulong* memory) => _memoryInfo == null ? NotSupported : _memoryInfo(device, memory);

        public int DeviceGetUtilizationRates(nint device, uint* rates) => _utilizationRates == null ? NotSupported : _utilizationRates(device, rates);

        public int DeviceGetDecoderUtilization(nint device, uint* utilization, uint* period) =>
            _decoderUtilization == null ? NotSupported : _decoderUtilization(device, utilization, period);

        public int DeviceGetTemperature(nint device, int sensor, uint* celsius) => _temperature == null ? NotSupported : _temperature(device, sensor, celsius);

        public int DeviceGetPowerUsage(nint device, uint* milliwatts) => _powerUsage == null ? NotSupported : _powerUsage(device, milliwatts);

        public int DeviceGetClockInfo(nint device, int type, uint* mhz) => _clockInfo == null ? NotSupported : _clockInfo(device, type, mhz);

        private static nint OptionalExport(nint library, params string[] names)
        {
            foreach (var name in names)
            {
                if (NativeLibrary.TryGetExport(library, name, out var export))
                {
                    return export;
                }
            }

            return 0;
        }
    }
}
