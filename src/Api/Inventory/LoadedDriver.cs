using System.Text.RegularExpressions;
using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Inventory;

/// <summary>The NVIDIA kernel module the running kernel has loaded, as the kernel reports it.</summary>
/// <param name="Version">The module's version, e.g. <c>550.127.05</c>: the exact version every container's userspace driver must have.</param>
/// <param name="Flavor">Open or proprietary, from the banner; null when only sysfs answered.</param>
/// <param name="SysfsVersion"><c>/sys/module/nvidia/version</c> as it reads (trimmed); null when absent or empty.</param>
public sealed record LoadedModule(string Version, DriverFlavor? Flavor, string? SysfsVersion);

/// <summary>
/// The one answer to "which NVIDIA driver version is loaded": the number every container must match exactly, used
/// by the inventory, <c>GET /host/driver</c>, the guest jobs' preconditions, the host install's verification and the
/// re-sync. Sources, in order:
/// <list type="number">
/// <item><see cref="BannerPath"/>: the module's own banner (<c>NVRM version: … Kernel Module 550.127.05 …</c>), which
/// also says open or proprietary;</item>
/// <item><see cref="SysfsPath"/>: the version the kernel records for the loaded module, when the banner is missing
/// or in a form the parser does not know; used only when it is version-shaped (digits and dots), since the answer
/// reaches package names and installer paths.</item>
/// </list>
/// Neither: no module is loaded. NVML (<c>nvmlSystemGetDriverVersion</c>) and <c>nvidia-smi</c> are not sources:
/// they need the userspace library on the host and answer only when that library equals the loaded module (else
/// "Driver/library version mismatch"), so they add nothing when they work and are silent exactly after an upgrade
/// before the reboot, when the answer matters. Read through the host seam on every call: no caching.
/// </summary>
public sealed partial class LoadedDriver(IHostFileSystem files)
{
    public const string BannerPath = "/proc/driver/nvidia/version";
    public const string SysfsPath = "/sys/module/nvidia/version";

    /// <summary>The loaded module, its version from the first source that gives one; null when no NVIDIA module is loaded.</summary>
    public async Task<LoadedModule?> ReadAsync(CancellationToken cancellationToken)
    {
        var banner = NvidiaProcFs.ParseDriverVersion(await files.TryReadTextAsync(BannerPath, cancellationToken) ?? "");
        var sysfs = (await files.TryReadTextAsync(SysfsPath, cancellationToken))?.Trim();
        sysfs = string.IsNullOrEmpty(sysfs) ? null : sysfs;
        return banner is { } b ? new LoadedModule(b.Version, b.Flavor, sysfs)
            : sysfs is not null && VersionPattern().IsMatch(sysfs) ? new LoadedModule(sysfs, null, sysfs)
            : null;
    }

    /// <summary>The loaded module's version (<see cref="ReadAsync"/>); null when none is loaded.</summary>
    public async Task<string?> ReadVersionAsync(CancellationToken cancellationToken) =>
        (await ReadAsync(cancellationToken))?.Version;

    [GeneratedRegex(@"^[0-9]+\.[0-9]+(\.[0-9]+)?\z")]
    private static partial Regex VersionPattern();
}
