using System.Globalization;
using System.Text.RegularExpressions;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Inventory;

namespace GpuLxc.Api.Guardian;

/// <summary>An installed kernel newer than the running one, and whether the NVIDIA module is ready for it.</summary>
/// <param name="Kernel">Its release, e.g. <c>6.8.12-5-pve</c>.</param>
/// <param name="ModuleBuilt">Whether <c>modprobe nvidia</c> would find a module when it runs: <c>modinfo -k KERNEL nvidia</c> answers with a version.</param>
/// <param name="ModuleVersion">That module's version; null when none is built.</param>
/// <param name="Dkms">DKMS's status lines for nvidia on this kernel (<c>installed</c>, <c>built</c>, …); empty when DKMS has none or is not installed.</param>
/// <param name="Findings">Compatibility rules the host's installed driver breaks on this kernel (it will not build).</param>
public sealed record StagedKernel(string Kernel, bool ModuleBuilt, string? ModuleVersion, IReadOnlyList<string> Dkms, IReadOnlyList<CompatibilityFinding> Findings);

/// <summary>What the guardian saw of the host at one check.</summary>
/// <param name="At">When (UTC).</param>
/// <param name="Kernel">The running kernel's release (<c>/proc/sys/kernel/osrelease</c>).</param>
/// <param name="LoadedVersion">The loaded module's version (<see cref="LoadedDriver"/>); null when none is loaded.</param>
/// <param name="InstalledVersion">The module on disk for the running kernel (<c>modinfo -F version nvidia</c>); null when none or unknown.</param>
/// <param name="Majors">The NVIDIA character majors <c>/proc/devices</c> lists, by driver name (<c>nvidia-uvm</c> → 509).</param>
/// <param name="StagedKernels">Every installed kernel newer than the running one.</param>
public sealed record HostObservation(
    DateTimeOffset At,
    string? Kernel,
    string? LoadedVersion,
    string? InstalledVersion,
    IReadOnlyDictionary<string, uint> Majors,
    IReadOnlyList<StagedKernel> StagedKernels)
{
    /// <summary>A driver on disk differs from the loaded one: it loads only after a reboot.</summary>
    public bool RebootNeeded => LoadedVersion is not null && InstalledVersion is not null && LoadedVersion != InstalledVersion;
}

/// <summary>
/// Reads a <see cref="HostObservation"/> through the host seam: procfs, <c>modinfo</c> (the module kmod would load,
/// for the running kernel and for each staged one) and <c>dkms status</c>. Only read-only commands, each with a short timeout.
/// </summary>
public sealed partial class HostObserver(IHostFileSystem files, IHostCommandRunner commands, LoadedDriver loadedDriver, TimeProvider time)
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(20);

    /// <summary>A kernel release as it may reach a path or an argv: what <c>uname -r</c> prints.</summary>
    public static bool IsKernelRelease(string? value) => value is not null && KernelPattern().IsMatch(value);

    /// <summary>Orders kernel releases by their numbers: <c>6.8.12-5-pve</c> is newer than <c>6.8.12-4-pve</c>, <c>6.14.8-2-pve</c> than both.</summary>
    public static int CompareKernels(string left, string right)
    {
        var a = NumberPattern().Matches(left).Select(m => long.Parse(m.Value, CultureInfo.InvariantCulture)).ToList();
        var b = NumberPattern().Matches(right).Select(m => long.Parse(m.Value, CultureInfo.InvariantCulture)).ToList();
        for (var i = 0; i < Math.Min(a.Count, b.Count); i++)
        {
            if (a[i] != b[i])
            {
                return a[i].CompareTo(b[i]);
            }
        }

        return a.Count != b.Count ? a.Count.CompareTo(b.Count) : string.CompareOrdinal(left, right);
    }

    public async Task<HostObservation> ReadAsync(CancellationToken cancellationToken)
    {
        var kernel = (await files.TryReadTextAsync("/proc/sys/kernel/osrelease", cancellationToken))?.Trim();
        var loaded = await loadedDriver.ReadVersionAsync(cancellationToken);
        var installed = await ModuleVersionAsync(null, cancellationToken);
        var majors = NvidiaProcFs.ParseCharacterDevices(await files.TryReadTextAsync("/proc/devices", cancellationToken) ?? "")
            .Where(pair => pair.Key.StartsWith("nvidia", StringComparison.Ordinal))
            .ToDictionary(pair => pair.Key, pair => pair.Value, StringComparer.Ordinal);
        return new HostObservation(time.GetUtcNow(), kernel, loaded, installed, majors, await StagedAsync(kernel, installed ?? loaded, cancellationToken));
    }

    /// <summary>Every installed kernel (a boot image in <c>/boot</c> or a module tree of its own) newer than <paramref name="running"/>.</summary>
    public IReadOnlyList<string> StagedKernels(string? running) =>
        files.ListDirectory("/lib/modules").Select(Path.GetFileName).OfType<string>()
            .Where(k => IsKernelRelease(k) && k != running && (running is null || CompareKernels(k, running) > 0))
            .Where(k => files.FileExists($"/boot/vmlinuz-{k}") || files.DirectoryExists($"/lib/modules/{k}/kernel"))
            .Order(Comparer<string>.Create(CompareKernels))
            .ToList();

    /// <summary>The version of the nvidia module kmod finds for <paramref name="kernel"/> (null: the running one); null when there is none.</summary>
    public async Task<string?> ModuleVersionAsync(string? kernel, CancellationToken cancellationToken)
    {
        if (commands.FindExecutable("modinfo") is null)
        {
            return null;
        }

        string[] arguments = kernel is null ? ["-F", "version", "nvidia"] : ["-k", kernel, "-F", "version", "nvidia"];
        try
        {
            var result = await commands.RunAsync(new HostCommand("modinfo", arguments) { Timeout = CommandTimeout }, cancellationToken);
            var version = result.Succeeded ? result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() : null;
            return version is not null && VersionPattern().IsMatch(version) ? version : null;
        }
        catch (HostCommandTimeoutException)
        {
            return null;
        }
    }

    private async Task<IReadOnlyList<StagedKernel>> StagedAsync(string? running, string? driver, CancellationToken cancellationToken)
    {
        var kernels = StagedKernels(running);
        if (kernels.Count == 0)
        {
            return [];
        }

        var dkms = await DkmsAsync(cancellationToken);
        var staged = new List<StagedKernel>();
        foreach (var kernel in kernels)
        {
            var version = await ModuleVersionAsync(kernel, cancellationToken);
            staged.Add(new StagedKernel(kernel, version is not null, version,
                dkms.Where(e => e.Kernel == kernel).Select(e => $"{e.Module}/{e.Version}: {e.Status}").ToList(),
                DriverCompatibility.CheckKernel(kernel, version ?? driver)));
        }

        return staged;
    }

    private async Task<IReadOnlyList<DkmsEntry>> DkmsAsync(CancellationToken cancellationToken)
    {
        if (commands.FindExecutable("dkms") is null)
        {
            return [];
        }

        try
        {
            var result = await commands.RunAsync(new HostCommand("dkms", "status") { Timeout = CommandTimeout }, cancellationToken);
            return HostDriverReader.ParseDkmsStatus(result.StandardOutput).Where(e => e.Module.StartsWith("nvidia", StringComparison.Ordinal)).ToList();
        }
        catch (HostCommandTimeoutException)
        {
            return [];
        }
    }

    [GeneratedRegex(@"^[0-9]+\.[0-9]+[A-Za-z0-9._+-]{0,100}\z")]
    private static partial Regex KernelPattern();

    [GeneratedRegex("[0-9]+")]
    private static partial Regex NumberPattern();

    [GeneratedRegex(@"^[0-9]+\.[0-9]+(\.[0-9]+)?\z")]
    private static partial Regex VersionPattern();
}
