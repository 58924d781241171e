// Over 300 lines: one reader joins sysfs, procfs, NVML and nvidia-smi (and the other vendors' sysfs) into one topology, cached as one.
using System.Globalization;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Nvenc;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Inventory;

/// <summary>
/// The host's GPUs: sysfs and procfs joined with NVML (or nvidia-smi). The slow-changing topology is cached for
/// <see cref="TopologyTtl"/>; encoder counters come from the shared <see cref="NvmlSweep"/> (or nvidia-smi) on every call.
/// </summary>
public sealed class GpuInventory(
    IHostFileSystem files,
    INvml nvml,
    NvmlSweep sweep,
    PciGpuScanner pci,
    DeviceNodeScanner nodes,
    DrmNodeScanner drm,
    NvidiaSmiQuery nvidiaSmi,
    IOptions<NvencOptions> nvencOptions,
    LoadedDriver loadedDriver,
    VmPassthroughReader vms,
    TimeProvider time) : IDisposable
{
    public static readonly TimeSpan TopologyTtl = TimeSpan.FromSeconds(10);

    private readonly SemaphoreSlim _refreshLock = new(1, 1);
    private Topology? _topology;

    /// <summary>Every NVIDIA GPU with live encoder counters.</summary>
    public async Task<GpuList> ListAsync(bool refresh, CancellationToken cancellationToken)
    {
        var topology = await TopologyAsync(refresh, cancellationToken);
        var gpus = await WithLiveCountersAsync(topology, cancellationToken);
        return new GpuList(gpus, topology.DriverVersion, topology.Source, topology.Notes, topology.Others);
    }

    /// <summary>The GPUs of other vendors (cached with the topology), for naming them in answers.</summary>
    public async Task<IReadOnlyList<OtherGpu>> OtherGpusAsync(bool refresh, CancellationToken cancellationToken) =>
        (await TopologyAsync(refresh, cancellationToken)).Others;

    /// <summary>The GPUs without live counters: the cached topology, for planning.</summary>
    public async Task<IReadOnlyList<Gpu>> TopologyGpusAsync(bool refresh, CancellationToken cancellationToken) =>
        (await TopologyAsync(refresh, cancellationToken)).Gpus;

    /// <summary>The GPU whose UUID, PCI address or index is <paramref name="gpuId"/>, or null.</summary>
    public async Task<Gpu?> FindAsync(string gpuId, bool refresh, CancellationToken cancellationToken)
    {
        var list = await ListAsync(refresh, cancellationToken);
        return Match(list.Gpus, gpuId);
    }

    /// <summary>The minors of the GPUs bound to nvidia: their <c>/dev/nvidiaN</c> nodes are the ones containers need.</summary>
    public static List<int> BoundMinors(IEnumerable<Gpu> gpus) =>
        gpus.Where(g => g.KernelDriver == "nvidia" && g.Minor is not null).Select(g => g.Minor!.Value).ToList();

    public static Gpu? Match(IEnumerable<Gpu> gpus, string gpuId)
    {
        var address = PciAddress.Normalize(gpuId);
        var isIndex = int.TryParse(gpuId, NumberStyles.None, CultureInfo.InvariantCulture, out var index);
        return gpus.FirstOrDefault(gpu =>
            string.Equals(gpu.Uuid, gpuId, StringComparison.OrdinalIgnoreCase) ||
            (address is not null && gpu.PciAddress == address) ||
            (isIndex && gpu.Index == index));
    }

    public void Dispose() => _refreshLock.Dispose();

    private async Task<Topology> TopologyAsync(bool refresh, CancellationToken cancellationToken)
    {
        var current = _topology;
        if (!refresh && current is not null && time.GetUtcNow() - current.ReadAt < TopologyTtl)
        {
            return current;
        }

        await _refreshLock.WaitAsync(cancellationToken);
        try
        {
            current = _topology;
            if (!refresh && current is not null && time.GetUtcNow() - current.ReadAt < TopologyTtl)
            {
                return current;
            }

            _topology = await ReadTopologyAsync(cancellationToken);
            return _topology;
        }
        finally
        {
            _refreshLock.Release();
        }
    }

    private async Task<Topology> ReadTopologyAsync(CancellationToken cancellationToken)
    {
        var notes = new List<string>();
        var display = await pci.ScanDisplayAsync(cancellationToken);
        var pciGpus = display.Where(g => g.VendorId == PciGpuScanner.NvidiaVendorId).ToList();
        var claims = await vms.ReadAsync(cancellationToken);
        var driverVersion = await loadedDriver.ReadVersionAsync(cancellationToken);

        IReadOnlyList<NvmlDevice> nvmlDevices = [];
        IReadOnlyList<NvidiaSmiGpu> smiGpus = [];
        string source;
        if (nvml.UnavailableReason is null)
        {
            nvmlDevices = nvml.Devices();
            source = "nvml";
        }
        else if (nvidiaSmi.IsInstalled)
        {
            notes.Add($"NVML: {nvml.UnavailableReason} Using nvidia-smi instead.");
            var (rows, error) = await nvidiaSmi.QueryAsync(cancellationToken);
            smiGpus = rows;
            if (error is not null)
            {
                notes.Add(error);
            }

            source = error is null ? "nvidia-smi" : "sysfs";
        }
        else
        {
            notes.Add($"NVML: {nvml.UnavailableReason} nvidia-smi is not installed either: names, brands and encoder " +
                      "counters are unknown; what sysfs and procfs show is reported.");
            source = "sysfs";
        }

        var addresses = pciGpus.Select(g => g.Address)
            .Union(nvmlDevices.Select(d => PciAddress.Normalize(d.PciBusId)).OfType<string>())
            .Union(smiGpus.Select(g => g.PciAddress))
            .Order(StringComparer.Ordinal)
            .ToList();

        var partials = new List<Gpu>();
        for (var position = 0; position < addresses.Count; position++)
        {
            var address = addresses[position];
            partials.Add(await JoinAsync(address, position,
                pciGpus.FirstOrDefault(g => g.Address == address),
                nvmlDevices.FirstOrDefault(d => PciAddress.Normalize(d.PciBusId) == address),
                smiGpus.FirstOrDefault(g => g.PciAddress == address),
                driverVersion,
                VmPassthroughReader.Find(claims, address),
                cancellationToken));
        }

        var scan = await nodes.ScanAsync(BoundMinors(partials), cancellationToken);
        var gpus = partials.Select(g => g with
        {
            DeviceNodes = g.Minor is { } minor ? scan.Nodes.Where(n => n.Path == DeviceNodeScanner.GpuNode(minor)).ToList() : [],
            DrmNodes = drm.Scan(g.PciAddress),
        }).ToList();

        var others = display.Where(g => g.VendorId != PciGpuScanner.NvidiaVendorId).Select(Other).ToList();
        return new Topology(gpus, driverVersion, source, notes, time.GetUtcNow(), others);
    }

    private OtherGpu Other(PciGpu sysfs)
    {
        var drmNodes = drm.Scan(sysfs.Address);
        var notes = new List<string>();
        if (drmNodes.Count == 0)
        {
            notes.Add(sysfs.KernelDriver == "none"
                ? "No driver is bound to it: it has no DRM nodes."
                : $"Its driver '{sysfs.KernelDriver}' made no DRM nodes for it.");
        }

        notes.AddRange(drmNodes.Where(n => n.Present && !n.ByPathResolves).Select(n =>
            $"{n.ByPath} does not point to {n.Path} (udev has not made it): the node cannot be passed by its stable name."));
        return new OtherGpu(sysfs.Address, OtherGpu.VendorName(sysfs.VendorId), sysfs.VendorId, sysfs.DeviceId, sysfs.SubsystemVendorId,
            sysfs.SubsystemDeviceId, sysfs.KernelDriver, sysfs.NumaNode, drmNodes, notes);
    }

    private async Task<Gpu> JoinAsync(string address, int position, PciGpu? sysfs, NvmlDevice? device, NvidiaSmiGpu? smi,
        string? driverVersion, GpuAssignment? assignedTo, CancellationToken cancellationToken)
    {
        var sources = new List<string>();
        var notes = new List<string>();
        if (sysfs is not null)
        {
            sources.Add("sysfs");
        }

        var information = await files.TryReadTextAsync($"/proc/driver/nvidia/gpus/{address}/information", cancellationToken);
        var proc = information is null ? null : NvidiaProcFs.ParseKeyValues(information);
        if (proc is not null)
        {
            sources.Add("procfs");
        }
        else if (sysfs?.KernelDriver == "nvidia")
        {
            notes.Add($"/proc/driver/nvidia/gpus/{address}/information could not be read.");
        }

        if (device is not null)
        {
            sources.Add("nvml");
        }
        else if (smi is not null)
        {
            sources.Add("nvidia-smi");
        }

        if (assignedTo is not null)
        {
            notes.Add(sysfs?.KernelDriver == "vfio-pci"
                ? $"Passed through to VM {assignedTo.Vm} ({assignedTo.Entry} in {assignedTo.Config}): it is that VM's, not the containers'."
                : $"VM {assignedTo.Vm} lists it in {assignedTo.Entry} ({assignedTo.Config}): starting that VM takes it from the host driver and from every container using it.");
        }
        else if (sysfs is { KernelDriver: not "nvidia" })
        {
            notes.Add($"The GPU is bound to '{sysfs.KernelDriver}', not 'nvidia': containers cannot use it.");
        }

        var name = device?.Name ?? smi?.Name ?? proc?.GetValueOrDefault("Model");
        var brand = device is not null ? BrandName(device.Brand) : "unknown";
        var minor = device?.Minor ?? ParseInt(proc?.GetValueOrDefault("Device Minor"));
        var deviceId = sysfs?.DeviceId ?? "";
        var nvenc = NvencPolicy.Describe(name, brand, deviceId, driverVersion, nvencOptions.Value.LimitOverride);

        return new Gpu(
            device?.Index ?? smi?.Index ?? position,
            device?.Uuid ?? smi?.Uuid ?? proc?.GetValueOrDefault("GPU UUID"),
            address,
            name,
            brand,
            "10de",
            deviceId,
            sysfs?.SubsystemVendorId,
            sysfs?.SubsystemDeviceId,
            sysfs?.KernelDriver ?? "nvidia",
            sysfs?.NumaNode,
            minor,
            smi?.Vbios ?? proc?.GetValueOrDefault("Video BIOS"),
            [],
            nvenc,
            sources,
            notes,
            assignedTo);
    }

    private async Task<IReadOnlyList<Gpu>> WithLiveCountersAsync(Topology topology, CancellationToken cancellationToken)
    {
        if (topology.Source == "nvml")
        {
            var current = sweep.Current();
            return topology.Gpus.Select(gpu => current.Device(gpu.Index)?.Encoder is { } live
                ? gpu with
                {
                    Nvenc = gpu.Nvenc with
                    {
                        SessionCount = live.SessionCount,
                        AverageFps = live.AverageFps,
                        AverageLatencyMicroseconds = live.AverageLatencyMicroseconds,
                        UtilizationPercent = live.UtilizationPercent,
                        Sessions = live.Sessions.Select(s => new EncoderSession(s.SessionId, s.Pid, s.Codec, s.Width, s.Height, s.AverageFps, s.AverageLatencyMicroseconds)).ToList(),
                    },
                }
                : gpu).ToList();
        }

        if (topology.Source == "nvidia-smi")
        {
            var (rows, _) = await nvidiaSmi.QueryAsync(cancellationToken);
            return topology.Gpus.Select(gpu => rows.FirstOrDefault(r => r.PciAddress == gpu.PciAddress) is { } row
                ? gpu with
                {
                    Nvenc = gpu.Nvenc with
                    {
                        SessionCount = row.EncoderSessions,
                        AverageFps = row.EncoderAverageFps,
                        AverageLatencyMicroseconds = row.EncoderAverageLatency,
                        UtilizationPercent = row.EncoderUtilization,
                    },
                }
                : gpu).ToList();
        }

        return topology.Gpus;
    }

    /// <summary>NVML's <c>nvmlBrandType_t</c>, in camelCase.</summary>
    public static string BrandName(int brand) => brand switch
    {
        1 => "quadro",
        2 => "tesla",
        3 => "nvs",
        4 => "grid",
        5 => "geforce",
        6 => "titan",
        7 => "nvidiaVapps",
        8 => "nvidiaVpc",
        9 => "nvidiaVcs",
        10 => "nvidiaVws",
        11 => "nvidiaCloudGaming",
        12 => "quadroRtx",
        13 => "nvidiaRtx",
        14 => "nvidia",
        15 => "geforceRtx",
        16 => "titanRtx",
        _ => "unknown",
    };

    private static int? ParseInt(string? value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number) ? number : null;

    private sealed record Topology(IReadOnlyList<Gpu> Gpus, string? DriverVersion, string Source, IReadOnlyList<string> Notes, DateTimeOffset ReadAt, IReadOnlyList<OtherGpu> Others);
}

/// <summary>The host's GPUs: NVIDIA's in full, the others' DRM nodes.</summary>
/// <param name="Gpus">Every NVIDIA display or 3D controller, in PCI order.</param>
/// <param name="DriverVersion">The driver version the GPUs run under, when one is loaded.</param>
/// <param name="Source">Where names and counters came from: <c>nvml</c>, <c>nvidia-smi</c>, or <c>sysfs</c> alone.</param>
/// <param name="Notes">What could not be read, and why.</param>
/// <param name="OtherGpus">Every display controller of another vendor (an Intel or AMD iGPU), in PCI order, with its DRM nodes.</param>
public sealed record GpuList(IReadOnlyList<Gpu> Gpus, string? DriverVersion, string Source, IReadOnlyList<string> Notes, IReadOnlyList<OtherGpu>? OtherGpus = null);
