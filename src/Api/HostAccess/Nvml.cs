using System.Runtime.InteropServices;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.HostAccess;

/// <summary>A GPU as NVML names it. <see cref="Brand"/> is NVML's <c>nvmlBrandType_t</c> value.</summary>
public sealed record NvmlDevice(int Index, string Name, string Uuid, int Brand, int? Minor, string PciBusId, int? EncoderCapacityH264);

/// <summary>Encoder counters read at request time.</summary>
public sealed record NvmlEncoderLive(int SessionCount, int AverageFps, int AverageLatencyMicroseconds, int? UtilizationPercent, IReadOnlyList<NvmlEncoderSession> Sessions);

/// <summary>One NVENC session; <see cref="Pid"/> is a host PID.</summary>
public sealed record NvmlEncoderSession(int SessionId, int Pid, string Codec, int Width, int Height, int AverageFps, int AverageLatencyMicroseconds);

/// <summary>NVIDIA's management library, when the host root is <c>/</c> and <c>libnvidia-ml.so.1</c> loads.</summary>
public interface INvml
{
    /// <summary>Why NVML cannot be used, or null when it can.</summary>
    string? UnavailableReason { get; }

    string? DriverVersion();

    IReadOnlyList<NvmlDevice> Devices();

    /// <summary>
    /// One sweep of every device: its processes, per-process utilisation, encoder and FBC sessions and totals. Callers
    /// go through <see cref="NvmlSweep"/>, which shares one sweep between the NVENC guard, the API and the scrape.
    /// </summary>
    IReadOnlyList<NvmlSample> Sample();
}

/// <summary>
/// NVML through P/Invoke. Loaded and initialised once, on first use; every call is a plain function call into the
/// library (microseconds), which is why live counters can be read per request. The sweep is in NvmlSampling.cs.
/// </summary>
internal sealed unsafe partial class NvmlLibrary : INvml, IDisposable
{
    private const int Success = 0;
    private const int InsufficientSize = 7;
    private const int MaxSessions = 256;

    private readonly Lazy<Api?> _api;
    private string? _unavailableReason;

    public NvmlLibrary(IOptions<HostAccessOptions> options)
    {
        _api = new Lazy<Api?>(() => Load(options.Value.Root), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public string? UnavailableReason => _api.Value is null ? _unavailableReason : null;

    public string? DriverVersion()
    {
        if (_api.Value is not { } api)
        {
            return null;
        }

        var buffer = stackalloc byte[96];
        return api.SystemGetDriverVersion(buffer, 96) == Success ? Text(buffer) : null;
    }

    public IReadOnlyList<NvmlDevice> Devices()
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

        var devices = new List<NvmlDevice>((int)count);
        var text = stackalloc byte[96];
        var pci = stackalloc byte[68];
        for (uint index = 0; index < count; index++)
        {
            nint device;
            if (api.DeviceGetHandleByIndex(index, &device) != Success)
            {
                continue;
            }

            var name = api.DeviceGetName(device, text, 96) == Success ? Text(text) : "";
            var uuid = api.DeviceGetUuid(device, text, 96) == Success ? Text(text) : "";
            int brand;
            if (api.DeviceGetBrand(device, &brand) != Success)
            {
                brand = 0;
            }

            uint minor;
            int? minorNumber = api.DeviceGetMinorNumber(device, &minor) == Success ? (int)minor : null;
            // nvmlPciInfo_t: char busIdLegacy[16]; five unsigned ints; char busId[32] at offset 36.
            var busId = api.DeviceGetPciInfo(device, pci) == Success ? Text(pci + 36) : "";
            uint capacity;
            int? h264Capacity = api.DeviceGetEncoderCapacity(device, 0, &capacity) == Success ? (int)capacity : null;
            devices.Add(new NvmlDevice((int)index, name, uuid, brand, minorNumber, busId, h264Capacity));
        }

        return devices;
    }

    public void Dispose()
    {
        if (_api.IsValueCreated && _api.Value is { } api)
        {
            api.Shutdown();
        }
    }

    private static List<NvmlEncoderSession> EncoderSessions(Api api, nint device)
    {
        // nvmlEncoderSessionInfo_t: sessionId, pid, vgpuInstance, codecType, hResolution, vResolution, averageFps,
        // averageLatency: eight 32-bit fields.
        var infos = stackalloc uint[MaxSessions * 8];
        uint count = MaxSessions;
        var result = api.DeviceGetEncoderSessions(device, &count, infos);
        if (result is not Success and not InsufficientSize)
        {
            return [];
        }

        var sessions = new List<NvmlEncoderSession>((int)Math.Min(count, MaxSessions));
        for (var i = 0; i < Math.Min(count, MaxSessions); i++)
        {
            var info = infos + (i * 8);
            sessions.Add(new NvmlEncoderSession((int)info[0], (int)info[1], CodecName(info[3]), (int)info[4], (int)info[5], (int)info[6], (int)info[7]));
        }

        return sessions;
    }

    private static string CodecName(uint codec) => codec switch
    {
        0 => "h264",
        1 => "hevc",
        2 => "av1",
        _ => "unknown",
    };

    private static string Text(byte* buffer) => Marshal.PtrToStringUTF8((nint)buffer) ?? "";

    private Api? Load(string root)
    {
        if (Path.GetFullPath(root) != "/")
        {
            _unavailableReason = $"GpuLxc:Host:Root is {root}; NVML only describes the host this process runs on.";
            return null;
        }

        if (!NativeLibrary.TryLoad("libnvidia-ml.so.1", out var library))
        {
            _unavailableReason = "libnvidia-ml.so.1 could not be loaded: the NVIDIA userspace driver is not installed.";
            return null;
        }

        try
        {
            var api = new Api(library);
            var result = api.Init();
            if (result != Success)
            {
                _unavailableReason = $"nvmlInit_v2 failed: {api.ErrorString(result)} ({result}).";
                return null;
            }

            return api;
        }
        catch (EntryPointNotFoundException e)
        {
            _unavailableReason = $"libnvidia-ml.so.1 lacks a required function: {e.Message}";
            return null;
        }
    }

    /// <summary>The NVML functions GpuLxc calls, bound once from the loaded library.</summary>
    private sealed partial class Api(nint library)
    {
        private readonly delegate* unmanaged<int> _init = (delegate* unmanaged<int>)Export(library, "nvmlInit_v2");
        private readonly delegate* unmanaged<int> _shutdown = (delegate* unmanaged<int>)Export(library, "nvmlShutdown");
        private readonly delegate* unmanaged<int, byte*> _errorString = (delegate* unmanaged<int, byte*>)Export(library, "nvmlErrorString");
        private readonly delegate* unmanaged<byte*, uint, int> _driverVersion = (delegate* unmanaged<byte*, uint, int>)Export(library, "nvmlSystemGetDriverVersion");
        private readonly delegate* unmanaged<uint*, int> _count = (delegate* unmanaged<uint*, int>)Export(library, "nvmlDeviceGetCount_v2");
        private readonly delegate* unmanaged<uint, nint*, int> _handle = (delegate* unmanaged<uint, nint*, int>)Export(library, "nvmlDeviceGetHandleByIndex_v2");
        private readonly delegate* unmanaged<nint, byte*, uint, int> _name = (delegate* unmanaged<nint, byte*, uint, int>)Export(library, "nvmlDeviceGetName");
        private readonly delegate* unmanaged<nint, byte*, uint, int> _uuid = (delegate* unmanaged<nint, byte*, uint, int>)Export(library, "nvmlDeviceGetUUID");
        private readonly delegate* unmanaged<nint, int*, int> _brand = (delegate* unmanaged<nint, int*, int>)Export(library, "nvmlDeviceGetBrand");
        private readonly delegate* unmanaged<nint, uint*, int> _minor = (delegate* unmanaged<nint, uint*, int>)Export(library, "nvmlDeviceGetMinorNumber");
        private readonly delegate* unmanaged<nint, byte*, int> _pci = (delegate* unmanaged<nint, byte*, int>)Export(library, "nvmlDeviceGetPciInfo_v3");
        private readonly delegate* unmanaged<nint, int, uint*, int> _encoderCapacity = (delegate* unmanaged<nint, int, uint*, int>)Export(library, "nvmlDeviceGetEncoderCapacity");
        private readonly delegate* unmanaged<nint, uint*, uint*, uint*, int> _encoderStats = (delegate* unmanaged<nint, uint*, uint*, uint*, int>)Export(library, "nvmlDeviceGetEncoderStats");
        private readonly delegate* unmanaged<nint, uint*, uint*, int> _encoderSessions = (delegate* unmanaged<nint, uint*, uint*, int>)Export(library, "nvmlDeviceGetEncoderSessions");
        private readonly delegate* unmanaged<nint, uint*, uint*, int> _encoderUtilization = (delegate* unmanaged<nint, uint*, uint*, int>)Export(library, "nvmlDeviceGetEncoderUtilization");

        public int Init() => _init();

        public int Shutdown() => _shutdown();

        public string ErrorString(int result) => Marshal.PtrToStringUTF8((nint)_errorString(result)) ?? "unknown error";

        public int SystemGetDriverVersion(byte* buffer, uint length) => _driverVersion(buffer, length);

        public int DeviceGetCount(uint* count) => _count(count);

        public int DeviceGetHandleByIndex(uint index, nint* device) => _handle(index, device);

        public int DeviceGetName(nint device, byte* buffer, uint length) => _name(device, buffer, length);

        public int DeviceGetUuid(nint device, byte* buffer, uint length) => _uuid(device, buffer, length);

        public int DeviceGetBrand(nint device, int* brand) => _brand(device, brand);

        public int DeviceGetMinorNumber(nint device, uint* minor) => _minor(device, minor);

        public int DeviceGetPciInfo(nint device, byte* pciInfo) => _pci(device, pciInfo);

        public int DeviceGetEncoderCapacity(nint device, int encoderType, uint* capacity) => _encoderCapacity(device, encoderType, capacity);

        public int DeviceGetEncoderStats(nint device, uint* sessions, uint* fps, uint* latency) => _encoderStats(device, sessions, fps, latency);

        public int DeviceGetEncoderSessions(nint device, uint* count, uint* infos) => _encoderSessions(device, count, infos);

        public int DeviceGetEncoderUtilization(nint device, uint* utilization, uint* samplingPeriod) => _encoderUtilization(device, utilization, samplingPeriod);

        private static nint Export(nint library, string name) => NativeLibrary.GetExport(library, name);
    }
}
