using System.Globalization;
using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Inventory;

/// <summary>A display or 3D controller (PCI class 0x03) as sysfs describes it.</summary>
/// <param name="Address">Its PCI address, normalized (<c>0000:00:02.0</c>).</param>
/// <param name="DeviceId">PCI device id, hex.</param>
/// <param name="SubsystemVendorId">PCI subsystem vendor id, hex.</param>
/// <param name="SubsystemDeviceId">PCI subsystem device id, hex.</param>
/// <param name="KernelDriver">The bound driver (the <c>driver</c> link's name), or <c>none</c>.</param>
/// <param name="NumaNode">The NUMA node, when the platform has one.</param>
/// <param name="VendorId">PCI vendor id, hex: <c>10de</c> NVIDIA, <c>8086</c> Intel, <c>1002</c> AMD.</param>
public sealed record PciGpu(
    string Address,
    string DeviceId,
    string? SubsystemVendorId,
    string? SubsystemDeviceId,
    string KernelDriver,
    int? NumaNode,
    string VendorId = PciGpuScanner.NvidiaVendorId);

/// <summary>Finds GPUs in <c>/sys/bus/pci/devices</c>: PCI class 0x03 (display), NVIDIA's (vendor 0x10de) or every vendor's.</summary>
public sealed class PciGpuScanner(IHostFileSystem files)
{
    public const string DevicesPath = "/sys/bus/pci/devices";
    public const string NvidiaVendorId = "10de";

    /// <summary>The NVIDIA GPUs, in PCI order.</summary>
    public async Task<IReadOnlyList<PciGpu>> ScanAsync(CancellationToken cancellationToken) =>
        (await ScanDisplayAsync(cancellationToken)).Where(g => g.VendorId == NvidiaVendorId).ToList();

    /// <summary>Every display-class device, whoever made it (an Intel or AMD iGPU beside the NVIDIA card), in PCI order.</summary>
    public async Task<IReadOnlyList<PciGpu>> ScanDisplayAsync(CancellationToken cancellationToken)
    {
        var gpus = new List<PciGpu>();
        foreach (var device in files.ListDirectory(DevicesPath))
        {
            if (await ReadHexAsync($"{device}/vendor", cancellationToken) is not { } vendor ||
                await ReadHexAsync($"{device}/class", cancellationToken) is not { } pciClass ||
                !pciClass.PadLeft(6, '0').StartsWith("03", StringComparison.Ordinal))
            {
                continue;
            }

            var address = PciAddress.Normalize(Path.GetFileName(device));
            if (address is null)
            {
                continue;
            }

            var numa = await ReadTrimmedAsync($"{device}/numa_node", cancellationToken);
            gpus.Add(new PciGpu(
                address,
                await ReadHexAsync($"{device}/device", cancellationToken) ?? "",
                await ReadHexAsync($"{device}/subsystem_vendor", cancellationToken),
                await ReadHexAsync($"{device}/subsystem_device", cancellationToken),
                files.ReadLinkName($"{device}/driver") ?? "none",
                int.TryParse(numa, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var node) && node >= 0 ? node : null,
                vendor));
        }

        return gpus;
    }

    /// <summary>A sysfs id such as <c>0x10de</c> as lower-case hex without the prefix (<c>10de</c>).</summary>
    private async Task<string?> ReadHexAsync(string hostPath, CancellationToken cancellationToken)
    {
        var value = await ReadTrimmedAsync(hostPath, cancellationToken);
        if (value is null)
        {
            return null;
        }

        return (value.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? value[2..] : value).ToLowerInvariant();
    }

    private async Task<string?> ReadTrimmedAsync(string hostPath, CancellationToken cancellationToken) =>
        (await files.TryReadTextAsync(hostPath, cancellationToken))?.Trim();
}
