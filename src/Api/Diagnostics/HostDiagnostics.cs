using GpuLxc.Api.Drivers;
using GpuLxc.Api.Guardian;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Hosts;
using GpuLxc.Api.Inventory;

namespace GpuLxc.Api.Diagnostics;

/// <summary>Checks the host against everything a container needs to use its GPU; each failure says how to fix it.</summary>
public sealed partial class HostDiagnostics(
    GpuInventory inventory, HostDriverReader drivers, HostInfoReader hosts, IHostFileSystem files, IHostCommandRunner commands, ContainerAudit containerAudit,
    DriverPropertyChecks properties, ModulesLoadFiles modulesLoad, GuardianChecks upgrades, ToolkitDiagnostics toolkits)
{
    public async Task<DiagnosticsReport> RunAsync(CancellationToken cancellationToken)
    {
        // The topology is reread first, so that the driver's view of the device nodes uses it too.
        var gpus = (await inventory.ListAsync(refresh: true, cancellationToken)).Gpus;
        var host = await hosts.ReadAsync(cancellationToken);
        var driver = await drivers.ReadAsync(cancellationToken);
        var loaded = driver.LoadedVersion is not null;
        var nouveau = driver.Modules.Any(m => m.Name == "nouveau" && m.Loaded);
        var containers = await containerAudit.ReadAsync(cancellationToken);

        List<DiagnosticCheck> checks =
        [
            GpuPresent(gpus),
            DriverLoaded(driver, gpus),
            GpusBound(gpus),
            NouveauAbsent(nouveau),
            VersionsAgree(driver),
            UserspaceMatches(driver),
            NodesPresent(driver, loaded),
            NodeMajors(driver, loaded),
            await modulesLoad.CheckAsync(cancellationToken),
            await UdevRuleAsync(cancellationToken),
            Headers(driver),
            await upgrades.StagedKernelsAsync(cancellationToken),
            GuardianChecks.DriverSupportsGpus(driver, gpus, host.KernelRelease),
            await upgrades.GuardianAsync(cancellationToken),
            await properties.DkmsAsync(driver, cancellationToken),
            await properties.SecureBootAsync(driver, cancellationToken),
            await CgroupKeysAsync(host.CgroupVersion, cancellationToken),
            ContainerAudit.GpuLinesCheck(containers),
            ContainerAudit.ConfinementCheck(containers),
            await toolkits.CheckAsync(cancellationToken),
            Nvenc(gpus),
            await properties.PersistenceModeAsync(driver, loaded, cancellationToken),
        ];
        return new DiagnosticsReport(checks.Max(c => c.Status == CheckStatus.Skip ? CheckStatus.Pass : c.Status), checks);
    }

    private static DiagnosticCheck GpuPresent(IReadOnlyList<Gpu> gpus) => gpus.Count > 0
        ? Pass("gpu-present", "An NVIDIA GPU is on the PCI bus", string.Join("; ", gpus.Select(g => $"{g.PciAddress} {g.Name ?? "device " + g.DeviceId}")))
        : Fail("gpu-present", "An NVIDIA GPU is on the PCI bus", "No NVIDIA display or 3D controller is in /sys/bus/pci/devices.",
            "Check that the card is seated and powered and not hidden by the BIOS; in a VM, pass the GPU through to it.");

    private static DiagnosticCheck DriverLoaded(HostDriver driver, IReadOnlyList<Gpu> gpus) => driver.LoadedVersion is { } version
        ? Pass("driver-loaded", "The NVIDIA kernel driver is loaded", $"{driver.Flavor?.ToString().ToLowerInvariant()} kernel module {version}")
        : gpus.Count == 0
            ? Skip("driver-loaded", "The NVIDIA kernel driver is loaded", "No NVIDIA GPU is present.")
            : Fail("driver-loaded", "The NVIDIA kernel driver is loaded", "/proc/driver/nvidia/version does not exist.",
                "Install the host driver (POST /api/v1/host/driver/install), then `modprobe nvidia` or reboot.");

    private static DiagnosticCheck GpusBound(IReadOnlyList<Gpu> gpus)
    {
        const string Id = "gpu-bound", Title = "Every NVIDIA GPU is bound to the nvidia driver";
        // A GPU on vfio-pci that a VM's hostpciN names is that VM's by design: reported, never a failure.
        var passedThrough = gpus.Where(g => g is { KernelDriver: "vfio-pci", AssignedTo: not null }).ToList();
        var unbound = gpus.Where(g => g.KernelDriver != "nvidia").Except(passedThrough).ToList();
        var reserved = string.Concat(passedThrough.Select(g => $"; {g.PciAddress} is passed through to VM {g.AssignedTo!.Vm} ({g.AssignedTo.Entry}), on vfio-pci"));
        if (gpus.Count == 0)
        {
            return Skip(Id, Title, "No NVIDIA GPU is present.");
        }

        if (unbound.Count == 0)
        {
            return Pass(Id, Title, $"{gpus.Count - passedThrough.Count} GPU(s) bound to nvidia{reserved}.");
        }

        var detail = string.Join("; ", unbound.Select(g => $"{g.PciAddress} is bound to {g.KernelDriver}")) + reserved;
        var fix = unbound.Any(g => g.KernelDriver == "vfio-pci")
            ? "The GPU is on vfio-pci but no VM's hostpciN (/etc/pve/qemu-server/*.conf) names it: if a VM is meant to have it, add it to that VM; " +
              "for containers, remove its id from /etc/modprobe.d/vfio*.conf and the kernel command line, run `update-initramfs -u -k all` and reboot."
            : unbound.Any(g => g.KernelDriver == "nouveau")
                ? "Blacklist nouveau (`blacklist nouveau` and `options nouveau modeset=0` in /etc/modprobe.d/blacklist-nouveau.conf), run `update-initramfs -u -k all` and reboot."
                : "Load the nvidia driver: `modprobe nvidia`; if that fails, reinstall the host driver.";
        return Fail(Id, Title, detail, fix);
    }

    private static DiagnosticCheck NouveauAbsent(bool loaded) => loaded
        ? Fail("nouveau-absent", "The nouveau driver is not loaded", "nouveau is in /proc/modules: it claims the GPU before nvidia can.",
            "Blacklist nouveau (`blacklist nouveau` and `options nouveau modeset=0` in /etc/modprobe.d/blacklist-nouveau.conf), run `update-initramfs -u -k all` and reboot.")
        : Pass("nouveau-absent", "The nouveau driver is not loaded", "nouveau is not loaded.");

    private static DiagnosticCheck VersionsAgree(HostDriver driver)
    {
        const string Id = "driver-versions-agree", Title = "The loaded driver is the installed one";
        return (driver.LoadedVersion, driver.InstalledVersion) switch
        {
            (null, _) => Skip(Id, Title, "No driver is loaded."),
            (_, null) => Warn(Id, Title, $"Loaded {driver.LoadedVersion}; no nvidia module is installed for the running kernel.",
                "Install the driver for the running kernel (with DKMS it is rebuilt on kernel updates)."),
            var (loaded, installed) when loaded == installed => Pass(Id, Title, $"{loaded} is loaded and installed."),
            var (loaded, installed) => Warn(Id, Title, $"Loaded {loaded}, installed {installed}: the new driver runs after a reboot.",
                "Reboot the host, then re-sync the containers' userspace drivers (POST /api/v1/host/driver/resync)."),
        };
    }

    private static DiagnosticCheck UserspaceMatches(HostDriver driver)
    {
        const string Id = "userspace-matches-kernel", Title = "The userspace driver matches the kernel module";
        // After an upgrade without a reboot the userspace already is the installed version: the fix is the reboot, never a downgrade.
        var reboot = driver.InstalledVersion is { } installed && installed != driver.LoadedVersion
            ? $"Reboot the host: {installed} is installed, but the running kernel still has {driver.LoadedVersion} loaded; then re-sync the containers (POST /api/v1/host/driver/resync)."
            : null;
        var said = driver.UserspaceError is { } error ? $" ({error})" : "";
        return (driver.LoadedVersion, driver.UserspaceVersion) switch
        {
            (null, _) => Skip(Id, Title, "No driver is loaded."),
            (_, null) => Warn(Id, Title, $"Neither NVML nor nvidia-smi answered{said}: the userspace driver is missing or mismatched.",
                reboot ?? $"Install the userspace driver of exactly version {driver.LoadedVersion} on the host."),
            var (loaded, userspace) when loaded == userspace => Pass(Id, Title, $"Both are {loaded}."),
            var (loaded, userspace) => Fail(Id, Title, $"Kernel module {loaded}, userspace {userspace}: NVML fails with \"Driver/library version mismatch\"{said}.",
                userspace == driver.InstalledVersion && reboot is not null ? reboot : $"Reinstall the userspace driver of exactly version {loaded}, the loaded module's."),
        };
    }

    private static DiagnosticCheck NodesPresent(HostDriver driver, bool loaded)
    {
        const string Id = "device-nodes-present", Title = "Every device node containers need exists";
        var missing = driver.DeviceNodes.Where(n => n.Required && !n.Present).Select(n => n.Path).ToList();
        if (!loaded)
        {
            return Skip(Id, Title, "No driver is loaded.");
        }

        return missing.Count == 0
            ? Pass(Id, Title, string.Join(", ", driver.DeviceNodes.Where(n => n.Present).Select(n => $"{n.Path} ({n.Major}:{n.Minor})")))
            : Fail(Id, Title, $"Missing: {string.Join(", ", missing)}.",
                "Create them: `nvidia-smi` (GPU and control nodes) and `nvidia-modprobe -c0 -u` (nvidia-uvm); the udev-rule and modules-load checks say what makes them exist at every boot.");
    }

    private static DiagnosticCheck NodeMajors(HostDriver driver, bool loaded)
    {
        const string Id = "device-node-majors", Title = "Device node majors match /proc/devices";
        var wrong = driver.DeviceNodes.Where(n => n.MajorMatches == false).ToList();
        if (!loaded || driver.DeviceNodes.All(n => !n.Present))
        {
            return Skip(Id, Title, "No device nodes to check.");
        }

        return wrong.Count == 0
            ? Pass(Id, Title, string.Join(", ", driver.DeviceNodes.Where(n => n.Present).Select(n => $"{n.Path} {n.Major}").Distinct()))
            : Fail(Id, Title, string.Join("; ", wrong.Select(n => $"{n.Path} is {n.Type} {n.Major}:{n.Minor}, /proc/devices says major {n.ExpectedMajor}")),
                $"Delete the stale nodes ({string.Join(" ", wrong.Select(n => n.Path))}) and recreate them with `nvidia-modprobe -c0 -u`; then re-attach the containers (PUT /api/v1/containers/{{id}}/gpu).");
    }

    /// <summary>
    /// Every rules file udev reads (a file in /etc/udev/rules.d hides the one of the same name in /usr/lib and /lib),
    /// parsed as udev parses it; a program a rule runs exists when it is on the host or on the command path.
    /// </summary>
    private async Task<DiagnosticCheck> UdevRuleAsync(CancellationToken cancellationToken)
    {
        var rules = new List<UdevRule>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var directory in (string[])["/etc/udev/rules.d", "/usr/lib/udev/rules.d", "/lib/udev/rules.d"])
        {
            foreach (var file in files.ListDirectory(directory, "*.rules").Where(f => seen.Add(Path.GetFileName(f))))
            {
                rules.AddRange(UdevRuleParser.Parse(file, await files.TryReadTextAsync(file, cancellationToken) ?? ""));
            }
        }

        return UdevNodeRules.Check(rules, ProgramExists);
    }

    private bool ProgramExists(string program) =>
        (program.StartsWith('/') && files.FileExists(program)) ||
        (ProgramName().IsMatch(Path.GetFileName(program)) && commands.FindExecutable(Path.GetFileName(program)) is not null);

    [System.Text.RegularExpressions.GeneratedRegex(@"^[A-Za-z0-9_.+-]+$")]
    private static partial System.Text.RegularExpressions.Regex ProgramName();

    private static DiagnosticCheck Headers(HostDriver driver) => driver.Headers.Present
        ? Pass("kernel-headers", "Headers for the running kernel are installed", driver.Headers.Path ?? "")
        : Warn("kernel-headers", "Headers for the running kernel are installed",
            $"No headers for {driver.Headers.Kernel ?? "the running kernel"}: DKMS cannot rebuild the module after a kernel update.",
            $"Install them: `apt install proxmox-headers-{driver.Headers.Kernel}` on Proxmox VE 8+, `linux-headers-{driver.Headers.Kernel}` on Debian/Ubuntu.");

    private async Task<DiagnosticCheck> CgroupKeysAsync(CgroupVersion cgroup, CancellationToken cancellationToken)
    {
        const string Id = "cgroup-keys", Title = "Container configs use the device key of this host's cgroup version";
        var (ignoredKey, rightKey) = cgroup == CgroupVersion.V2
            ? ("lxc.cgroup.devices.allow", "lxc.cgroup2.devices.allow")
            : ("lxc.cgroup2.devices.allow", "lxc.cgroup.devices.allow");
        if (cgroup == CgroupVersion.Unknown)
        {
            return Skip(Id, Title, "The cgroup version is unknown.");
        }

        var configs = files.ListDirectory("/etc/pve/lxc", "*.conf").Concat(files.ListDirectory("/var/lib/lxc").Select(d => $"{d}/config"));
        var offenders = new List<string>();
        foreach (var config in configs)
        {
            var text = await files.TryReadTextAsync(config, cancellationToken) ?? "";
            // Only the main section applies; snapshot sections keep the lines of their time.
            var main = text.Split('\n').TakeWhile(line => !line.StartsWith('['));
            if (main.Any(line => line.TrimStart().StartsWith(ignoredKey, StringComparison.Ordinal)))
            {
                offenders.Add(config);
            }
        }

        return offenders.Count == 0
            ? Pass(Id, Title, $"No container config uses {ignoredKey} on this cgroup {cgroup.ToString().ToLowerInvariant()} host.")
            : Fail(Id, Title, $"{string.Join(", ", offenders)} use {ignoredKey}, which this host ignores: the container is denied the GPU.",
                $"Re-attach the GPU (PUT /api/v1/containers/{{id}}/gpu), which writes {rightKey}, and remove the old lines.");
    }

    private static DiagnosticCheck Nvenc(IReadOnlyList<Gpu> gpus)
    {
        const string Id = "nvenc-present", Title = "A GPU has an NVENC encoder";
        var encoders = gpus.Where(g => g.Nvenc.Supported).ToList();
        if (gpus.Count == 0)
        {
            return Skip(Id, Title, "No NVIDIA GPU is present.");
        }

        return encoders.Count > 0
            ? Pass(Id, Title, string.Join("; ", encoders.Select(g => $"{g.Name ?? g.PciAddress}: {g.Nvenc.Reason}")))
            : Warn(Id, Title, string.Join("; ", gpus.Select(g => g.Nvenc.Reason)) + " Hardware transcoding (Jellyfin, Plex, Frigate) cannot use it.",
                "Use a GPU with NVENC for transcoding; compute workloads (Ollama, CUDA) are unaffected.");
    }

    private static DiagnosticCheck Pass(string id, string title, string detail) => new(id, title, CheckStatus.Pass, detail, null);

    private static DiagnosticCheck Warn(string id, string title, string detail, string fix) => new(id, title, CheckStatus.Warn, detail, fix);

    private static DiagnosticCheck Fail(string id, string title, string detail, string fix) => new(id, title, CheckStatus.Fail, detail, fix);

    private static DiagnosticCheck Skip(string id, string title, string detail) => new(id, title, CheckStatus.Skip, detail, null);
}
