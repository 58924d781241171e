using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Inventory;

/// <summary>Reads <see cref="HostDriver"/> through the host seam; a fact that cannot be read becomes a note.</summary>
public sealed partial class HostDriverReader(
    IHostFileSystem files,
    IHostCommandRunner commands,
    INvml nvml,
    NvidiaSmiQuery nvidiaSmi,
    DeviceNodeScanner nodes,
    GpuInventory inventory,
    LoadedDriver loadedDriver)
{
    public static readonly IReadOnlyList<string> WatchedModules = ["nvidia", "nvidia_uvm", "nvidia_modeset", "nvidia_drm", "nouveau"];

    /// <summary>The EFI variable holding Secure Boot's state (its 5th byte: 1 = enabled).</summary>
    public const string SecureBootVariable = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c";

    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(20);

    /// <summary>Where the loader finds the host's NVML: the first of these that links to a versioned file gives its version.</summary>
    private static readonly string[] UserspaceLinks =
        ["/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1", "/usr/lib64/libnvidia-ml.so.1", "/usr/lib/libnvidia-ml.so.1", "/usr/lib/aarch64-linux-gnu/libnvidia-ml.so.1"];

    public async Task<HostDriver> ReadAsync(CancellationToken cancellationToken)
    {
        var notes = new List<string>();
        var module = await loadedDriver.ReadAsync(cancellationToken);
        var kernel = (await files.TryReadTextAsync("/proc/sys/kernel/osrelease", cancellationToken))?.Trim();

        var installed = await ModinfoAsync("version", notes, cancellationToken);
        var signer = await ModinfoAsync("signer", notes, cancellationToken);
        var loaded = module?.Version;
        var (userspace, userspaceError) = await UserspaceVersionAsync(cancellationToken);

        var modules = NvidiaProcFs.ParseModules(await files.TryReadTextAsync("/proc/modules", cancellationToken) ?? "");
        var gpus = await inventory.TopologyGpusAsync(refresh: false, cancellationToken);
        var scan = await nodes.ScanAsync(GpuInventory.BoundMinors(gpus), cancellationToken);

        return new HostDriver(
            loaded,
            module?.Flavor,
            module?.SysfsVersion,
            installed,
            userspace,
            loaded is not null && installed is not null && loaded != installed,
            WatchedModules.Select(name => new KernelModule(name, modules.Contains(name))).ToList(),
            await ModulesLoadAsync(cancellationToken),
            await UdevRulesAsync(cancellationToken),
            scan.Nodes,
            !scan.MissingRequired.Any() && !scan.WrongMajor.Any(),
            await DkmsAsync(notes, cancellationToken),
            Headers(kernel),
            await SecureBootAsync(cancellationToken),
            string.IsNullOrEmpty(signer) ? null : signer,
            await PersistencedRunningAsync(cancellationToken),
            notes,
            userspaceError);
    }

    private async Task<string?> ModinfoAsync(string field, List<string> notes, CancellationToken cancellationToken)
    {
        if (commands.FindExecutable("modinfo") is null)
        {
            if (field == "version")
            {
                notes.Add("modinfo is not installed: the on-disk module version is unknown.");
            }

            return null;
        }

        try
        {
            var result = await commands.RunAsync(new HostCommand("modinfo", "-F", field, "nvidia") { Timeout = CommandTimeout }, cancellationToken);
            var value = result.StandardOutput.Trim();
            if (!result.Succeeded && field == "version")
            {
                notes.Add("modinfo finds no nvidia module for the running kernel: no driver is installed for it.");
            }

            return result.Succeeded && value.Length > 0 ? value.Split('\n')[0] : null;
        }
        catch (HostCommandTimeoutException e)
        {
            notes.Add(e.Message);
            return null;
        }
    }

    /// <summary>
    /// The version NVML loads: NVML's or nvidia-smi's answer; when neither answers (a mismatch makes both fail), the
    /// file the host's <c>libnvidia-ml.so.1</c> links to, with their own error text kept.
    /// </summary>
    private async Task<(string? Version, string? Error)> UserspaceVersionAsync(CancellationToken cancellationToken)
    {
        if (nvml.UnavailableReason is null)
        {
            return (nvml.DriverVersion(), null);
        }

        var error = $"NVML: {nvml.UnavailableReason}";
        if (nvidiaSmi.IsInstalled)
        {
            var (rows, smiError) = await nvidiaSmi.QueryAsync(cancellationToken);
            if (rows.Count > 0)
            {
                return (rows[0].DriverVersion, null);
            }

            error = smiError ?? error;
        }

        var linked = UserspaceLinks.Select(files.ReadLinkName).OfType<string>().Select(name => LinkedVersionPattern().Match(name))
            .FirstOrDefault(m => m.Success)?.Groups["version"].Value;
        return (linked, error);
    }

    private async Task<ModulesLoadState> ModulesLoadAsync(CancellationToken cancellationToken)
    {
        var listing = new List<string>();
        bool nvidia = false, uvm = false;
        foreach (var directory in (string[])["/etc/modules-load.d", "/usr/lib/modules-load.d", "/lib/modules-load.d"])
        {
            foreach (var file in files.ListDirectory(directory, "*.conf"))
            {
                var names = NvidiaProcFs.ParseModulesLoad(await files.TryReadTextAsync(file, cancellationToken) ?? "").ToList();
                nvidia |= names.Contains("nvidia");
                uvm |= names.Contains("nvidia_uvm") || names.Contains("nvidia-uvm");
                if (names.Any(name => name.StartsWith("nvidia", StringComparison.Ordinal)))
                {
                    listing.Add(file);
                }
            }
        }

        return new ModulesLoadState(listing, nvidia, uvm);
    }

    private async Task<IReadOnlyList<string>> UdevRulesAsync(CancellationToken cancellationToken)
    {
        var rules = new List<string>();
        foreach (var directory in (string[])["/etc/udev/rules.d", "/usr/lib/udev/rules.d", "/lib/udev/rules.d"])
        {
            foreach (var file in files.ListDirectory(directory, "*.rules"))
            {
                var text = await files.TryReadTextAsync(file, cancellationToken) ?? "";
                if (text.Contains("KERNEL==\"nvidia", StringComparison.Ordinal) || text.Contains("nvidia-modprobe", StringComparison.Ordinal) ||
                    text.Contains("nvidia-smi", StringComparison.Ordinal))
                {
                    rules.Add(file);
                }
            }
        }

        return rules;
    }

    private async Task<IReadOnlyList<DkmsEntry>?> DkmsAsync(List<string> notes, CancellationToken cancellationToken)
    {
        if (commands.FindExecutable("dkms") is null)
        {
            return null;
        }

        try
        {
            var result = await commands.RunAsync(new HostCommand("dkms", "status") { Timeout = CommandTimeout }, cancellationToken);
            return ParseDkmsStatus(result.StandardOutput).Where(e => e.Module.StartsWith("nvidia", StringComparison.Ordinal)).ToList();
        }
        catch (HostCommandTimeoutException e)
        {
            notes.Add(e.Message);
            return null;
        }
    }

    /// <summary>
    /// <c>dkms status</c> lines: <c>nvidia/580.159.04, 6.8.12-4-pve, x86_64: installed</c> (DKMS 3) or
    /// <c>nvidia, 470.256.02, 5.15.0-1-amd64, x86_64: installed</c> (DKMS 2); <c>nvidia/580.159.04: added</c> before a build.
    /// </summary>
    public static IEnumerable<DkmsEntry> ParseDkmsStatus(string output)
    {
        foreach (var rawLine in output.Split('\n'))
        {
            var line = rawLine.Trim();
            var colon = line.LastIndexOf(": ", StringComparison.Ordinal);
            if (colon <= 0)
            {
                continue;
            }

            var status = line[(colon + 2)..].Trim();
            var parts = line[..colon].Split(',', StringSplitOptions.TrimEntries);
            string module, version;
            int next;
            if (parts[0].Contains('/', StringComparison.Ordinal))
            {
                (module, version, next) = (parts[0].Split('/')[0], parts[0].Split('/')[1], 1);
            }
            else if (parts.Length >= 2)
            {
                (module, version, next) = (parts[0], parts[1], 2);
            }
            else
            {
                continue;
            }

            yield return new DkmsEntry(module, version, parts.ElementAtOrDefault(next), parts.ElementAtOrDefault(next + 1), status);
        }
    }

    public KernelHeaders Headers(string? kernel)
    {
        if (kernel is null)
        {
            return new KernelHeaders(null, false, null);
        }

        var path = $"/lib/modules/{kernel}/build";
        var present = files.DirectoryExists(path) || files.DirectoryExists($"/usr/src/linux-headers-{kernel}");
        return new KernelHeaders(kernel, present, path);
    }

    public async Task<string> SecureBootAsync(CancellationToken cancellationToken)
    {
        if (!files.DirectoryExists("/sys/firmware/efi"))
        {
            return "unsupported";
        }

        var value = await files.TryReadTextAsync(SecureBootVariable, cancellationToken);
        if (value is null)
        {
            return "unknown";
        }

        // efivarfs: 4 attribute bytes, then the one-byte value.
        return value.Length >= 5 ? (value[4] == '\u0001' ? "enabled" : "disabled") : "unknown";
    }

    /// <summary><c>comm</c> holds at most 15 characters: nvidia-persistenced reads as <c>nvidia-persiste</c>.</summary>
    private async Task<bool> PersistencedRunningAsync(CancellationToken cancellationToken)
    {
        foreach (var process in files.ListDirectory("/proc"))
        {
            if (char.IsAsciiDigit(process[^1]) &&
                (await files.TryReadTextAsync($"{process}/comm", cancellationToken))?.Trim() == "nvidia-persiste")
            {
                return true;
            }
        }

        return false;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^libnvidia-ml\.so\.(?<version>[0-9]+\.[0-9]+(\.[0-9]+)?)$")]
    private static partial System.Text.RegularExpressions.Regex LinkedVersionPattern();
}
