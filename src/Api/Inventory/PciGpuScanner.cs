using System.Globalization;
using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Inventory;

/// <summary>An NVIDIA display or 3D controller as sysfs describes it.</summary>
public sealed record PciGpu(
    string Address,
    string DeviceId,
    string? SubsystemVendorId,
    string? SubsystemDeviceId,
    string KernelDriver,
    int? NumaNode);

/// <summary>Finds NVIDIA GPUs in <c>/sys/bus/pci/devices</c>: vendor 0x10de, PCI class 0x03 (display).</summary>
public sealed class PciGpuScanner(IHostFileSystem files)
{
    public const string DevicesPath = "/sys/bus/pci/devices";

    public async Task<IReadOnlyList<PciGpu>> ScanAsync(CancellationToken cancellationToken)
    {
        var gpus = new List<PciGpu>();
        foreach (var device in files.ListDirectory(DevicesPath))
        {
            if (await ReadHexAsync($"{device}/vendor", cancellationToken) != "10de" ||
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
                int.TryParse(numa, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var node) && node >= 0 ? node : null));
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
