// Over 300 lines: the install's seven steps are kept together so that they read in the order they run.
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Hosts;
using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.Inventory;
using GpuLxc.Api.Jobs;

namespace GpuLxc.Api.Drivers;

/// <summary>
/// Installs the NVIDIA driver on the host, as the manual procedure does, every step idempotent: headers, the driver
/// (Debian's package or NVIDIA's installer with DKMS), modules at boot, the initramfs, device nodes created before
/// containers start, and a check that says whether a reboot is needed.
/// </summary>
internal sealed partial class HostDriverInstallWork(
    HostInfoReader hostInfo,
    HostDriverReader drivers,
    GpuInventory inventory,
    LoadedDriver loadedDriver,
    IHostFileSystem files,
    IHostCommandRunner commands) : JobWork<HostDriverInstallRequest>
{
    public const string ModulesLoadFile = "/etc/modules-load.d/nvidia.conf";
    public const string NouveauBlacklistFile = "/etc/modprobe.d/gpulxc-blacklist-nouveau.conf";
    public const string UdevRuleFile = "/etc/udev/rules.d/70-gpulxc-nvidia.rules";
    public const string BootUnitName = "gpulxc-nvidia-nodes.service";
    public const string BootUnitFile = "/etc/systemd/system/" + BootUnitName;

    private static readonly TimeSpan AptTimeout = TimeSpan.FromMinutes(30);
    private static readonly TimeSpan QuickTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan InitramfsTimeout = TimeSpan.FromMinutes(15);
    private static readonly IReadOnlyDictionary<string, string> AptEnvironment = new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive" };

    public override JobKind Kind => JobKind.HostDriverInstall;

    public override IReadOnlyList<(string Name, string Title)> PlanSteps(HostDriverInstallRequest request) =>
    [
        ("preflight", "Check the host: GPUs and their drivers, Secure Boot, kernel headers"),
        ("headers", "Install the running kernel's headers"),
        ("driver", request.Method == HostInstallMethod.RunInstaller ? "Run NVIDIA's installer with --dkms --silent" : "Install the driver package"),
        ("modulesLoad", "Load nvidia and nvidia_uvm at boot"),
        ("initramfs", "Update the initramfs of every kernel"),
        ("deviceNodes", "Create the device nodes at boot, before containers start (udev rule and boot unit)"),
        ("verify", "Check the installed module and whether a reboot is needed"),
    ];

    public override async Task<JobResult?> RunAsync(HostDriverInstallRequest request, JobContext context)
    {
        var method = request.Method;
        var host = await context.StepAsync("preflight", step => PreflightAsync(context, step, method));
        await context.StepAsync("headers", async step =>
        {
            string[] packages = [.. HeaderPackages(host), .. method == HostInstallMethod.RunInstaller ? ["dkms"] : Array.Empty<string>()];
            await AptAsync(context, ["update"]);
            await AptAsync(context, ["install", "-y", "--no-install-recommends", .. packages]);
            step.Message = string.Join(' ', packages);
        });
        var packages = await context.StepAsync("driver", step => method == HostInstallMethod.RunInstaller
            ? RunInstallerAsync(context, step, request.RunInstaller!)
            : PackageAsync(context, step, host, request.Package, request.Version));
        await context.StepAsync("modulesLoad", step => ModulesLoadAsync(context, step, host));
        await context.StepAsync("initramfs", async step =>
        {
            await context.RunCheckedAsync(commands, new HostCommand("update-initramfs", "-u", "-k", "all") { Timeout = InitramfsTimeout });
            step.Message = "update-initramfs -u -k all";
        });
        await context.StepAsync("deviceNodes", step => DeviceNodesAsync(context, step, host));
        return await context.StepAsync("verify", step => VerifyAsync(context, step, host, request, packages));
    }

    /// <summary>What the steps need to know of the host.</summary>
    private sealed record HostFacts(string Kernel, OsInfo? Os, int? ProxmoxMajor, HostBackend Backend, bool NouveauBound);

    private async Task<HostFacts> PreflightAsync(JobContext context, JobStepScope step, HostInstallMethod method)
    {
        var info = await hostInfo.ReadAsync(context.Cancellation);
        if (info.KernelRelease is not { } kernel || !KernelPattern().IsMatch(kernel))
        {
            throw Precondition($"The running kernel's release could not be read ('{info.KernelRelease}').", null);
        }

        var gpus = await inventory.TopologyGpusAsync(refresh: true, context.Cancellation);
        if (gpus.Count == 0)
        {
            throw Precondition("No NVIDIA GPU is on the PCI bus.", "Check that the card is seated and enabled in the firmware (lspci -nn | grep 10de).");
        }

        // GPUs on vfio-pci belong to VMs (or wait for one): the host driver is for the others, so only a host where
        // every GPU is on vfio-pci has nothing to install for.
        if (gpus.All(g => g.KernelDriver == "vfio-pci"))
        {
            throw Precondition($"Every GPU is bound to vfio-pci ({string.Join(", ", gpus.Select(Holder))}): the host driver would have no GPU to drive.",
                "Give the host a GPU: remove one from its VM's hostpci entries and its id from vfio-pci.ids (/etc/modprobe.d), update the initramfs and reboot.");
        }

        var secureBoot = await drivers.SecureBootAsync(context.Cancellation);
        if (secureBoot == "enabled" && method == HostInstallMethod.RunInstaller)
        {
            throw Precondition("Secure Boot is enabled: the module the .run installer builds is unsigned and the kernel would refuse to load it.",
                "Disable Secure Boot in the firmware, or install Debian's packages (method package) with DKMS's key enrolled.");
        }

        if (secureBoot == "enabled" && !files.FileExists("/var/lib/dkms/mok.pub"))
        {
            throw Precondition("Secure Boot is enabled and DKMS has no signing key: the module DKMS builds would be unsigned and refused.",
                "`apt install dkms`, then `mokutil --import /var/lib/dkms/mok.pub` and confirm the key at the next boot; or disable Secure Boot.");
        }

        var proxmoxMajor = info.ProxmoxVersion is { } pve && int.TryParse(pve.Split('.')[0], CultureInfo.InvariantCulture, out var major) ? major : (int?)null;
        var host = new HostFacts(kernel, info.Os, proxmoxMajor, info.Backend, gpus.Any(g => g.KernelDriver == "nouveau") || info.NouveauLoaded);
        var headers = HeaderPackages(host);
        if (!info.KernelHeadersPresent)
        {
            var policy = await context.RunCheckedAsync(commands, new HostCommand("apt-cache", ["policy", headers[^1]]) { Timeout = QuickTimeout });
            if (!policy.StandardOutput.Contains("Candidate:", StringComparison.Ordinal) || policy.StandardOutput.Contains("Candidate: (none)", StringComparison.Ordinal))
            {
                throw Precondition($"The headers of the running kernel {kernel} ({headers[^1]}) are not installed and no repository offers them.",
                    proxmoxMajor is null
                        ? "Enable the distribution's main repository and run `apt update`, or boot a kernel whose headers are available."
                        : "Enable a Proxmox VE repository (no-subscription or enterprise) and run `apt update`.");
            }
        }

        step.Message = $"kernel {kernel}, {gpus.Count} GPU(s) ({string.Join(", ", gpus.Select(Holder))}), " +
                       $"Secure Boot {secureBoot}, headers {(info.KernelHeadersPresent ? "present" : "available")}" +
                       (host.NouveauBound ? "; nouveau holds the GPU until a reboot" : "");
        return host;
    }

    /// <summary>"0000:01:00.0 on nvidia", or "0000:41:00.0 on vfio-pci, stays with VM 200" for a GPU a VM claims.</summary>
    private static string Holder(Gpu gpu) =>
        $"{gpu.PciAddress} on {gpu.KernelDriver}" + (gpu.AssignedTo is { } vm ? $", stays with VM {vm.Vm}" : gpu.KernelDriver == "vfio-pci" ? ", left alone" : "");

    /// <summary>Proxmox VE ≥ 8: proxmox-headers; older: pve-headers; Debian and Ubuntu: linux-headers.</summary>
    private static string[] HeaderPackages(HostFacts host) => host.ProxmoxMajor switch
    {
        >= 8 => ["proxmox-default-headers", $"proxmox-headers-{host.Kernel}"],
        not null => ["pve-headers", $"pve-headers-{host.Kernel}"],
        _ => [$"linux-headers-{host.Kernel}"],
    };

    private async Task<IReadOnlyList<string>> PackageAsync(JobContext context, JobStepScope step, HostFacts host, string? package, string? version)
    {
        if (package is null)
        {
            if (host.Os?.Id is not ("debian" or null) && host.ProxmoxMajor is null)
            {
                throw Precondition($"nvidia-detect is Debian's; this host runs {host.Os?.PrettyName ?? host.Os?.Id}.",
                    "Give the driver package (e.g. nvidia-driver-550-server on Ubuntu), or use method runInstaller.");
            }

            if (commands.FindExecutable("nvidia-detect") is null)
            {
                await AptAsync(context, ["install", "-y", "--no-install-recommends", "nvidia-detect"]);
            }

            var detect = await context.RunCheckedAsync(commands, new HostCommand("nvidia-detect") { Timeout = QuickTimeout });
            package = ParseNvidiaDetect(detect.StandardOutput) ?? throw new JobFailedException(new JobError("preconditionFailed",
                $"nvidia-detect recommends no driver package: {detect.StandardOutput.Trim()}",
                Fix: "Give the driver package, or use method runInstaller with the installer NVIDIA lists for this GPU."));
        }

        var smiPackage = DriverSeries.SmiPackage(package);
        var install = DriverSeries.HostPackages(package);
        if (version is not null)
        {
            var madison = await context.RunCheckedAsync(commands, new HostCommand("apt-cache", ["madison", package, smiPackage]) { Timeout = QuickTimeout });
            var available = AptCandidates.ParseMadison(madison.StandardOutput);
            var exact = available.FirstOrDefault(v => v.Package == package && v.Upstream == version) ?? throw new JobFailedException(new JobError("noExactVersion",
                $"No {package} of version {version} in the configured repositories (found {string.Join(", ", available.Where(v => v.Package == package).Select(v => v.Version).DefaultIfEmpty("none"))}).",
                Fix: "Leave version out to install the repository's version, or use method runInstaller."));
            var smi = available.FirstOrDefault(v => v.Package == smiPackage && v.Upstream == version);
            install = [$"{package}={exact.Version}", smi is null ? smiPackage : $"{smiPackage}={smi.Version}", "nvidia-modprobe"];
        }

        await AptAsync(context, ["install", "-y", .. install]);
        step.Message = $"apt-get install {string.Join(' ', install)}";
        return install;
    }

    private async Task<IReadOnlyList<string>> RunInstallerAsync(JobContext context, JobStepScope step, string installer)
    {
        if (!files.FileExists(installer))
        {
            throw Precondition($"{installer} is gone from the host.", "Give the path of an installer that exists.");
        }

        await context.RunCheckedAsync(commands, new HostCommand("sh", files.LocalPath(installer), "--dkms", "--silent") { Timeout = AptTimeout },
            "See /var/log/nvidia-installer.log on the host.");
        step.Message = $"{installer} --dkms --silent";
        return [];
    }

    private async Task ModulesLoadAsync(JobContext context, JobStepScope step, HostFacts host)
    {
        var loaded = new HashSet<string>(StringComparer.Ordinal);
        foreach (var directory in (string[])["/etc/modules-load.d", "/usr/lib/modules-load.d", "/lib/modules-load.d"])
        {
            foreach (var file in files.ListDirectory(directory, "*.conf").Where(f => f != ModulesLoadFile))
            {
                loaded.UnionWith(NvidiaProcFs.ParseModulesLoad(await files.TryReadTextAsync(file, context.Cancellation) ?? "").Select(m => m.Replace('-', '_')));
            }
        }

        var wrote = new List<string>();
        if (!loaded.Contains("nvidia") || !loaded.Contains("nvidia_uvm"))
        {
            if (await WriteIfChangedAsync(context, ModulesLoadFile, "# Written by GpuLxc: load the NVIDIA modules at boot, so that containers find their device nodes.\nnvidia\nnvidia_uvm\n"))
            {
                wrote.Add(ModulesLoadFile);
            }
        }

        if (host.NouveauBound && await WriteIfChangedAsync(context, NouveauBlacklistFile, "# Written by GpuLxc: nouveau must not take the GPU from the nvidia driver.\nblacklist nouveau\noptions nouveau modeset=0\n"))
        {
            wrote.Add(NouveauBlacklistFile);
        }

        if (wrote.Count == 0)
        {
            step.Skip("nvidia and nvidia_uvm are already loaded at boot.");
        }
        else
        {
            step.Message = $"wrote {string.Join(", ", wrote)}";
        }
    }

    private async Task DeviceNodesAsync(JobContext context, JobStepScope step, HostFacts host)
    {
        var rule = await WriteIfChangedAsync(context, UdevRuleFile, UdevRule);
        var unit = await WriteIfChangedAsync(context, BootUnitFile, BootUnit(host.Backend));
        await context.RunCheckedAsync(commands, new HostCommand("udevadm", "control", "--reload-rules") { Timeout = QuickTimeout });
        await context.RunCheckedAsync(commands, new HostCommand("systemctl", "daemon-reload") { Timeout = QuickTimeout });
        await context.RunCheckedAsync(commands, new HostCommand("systemctl", "enable", BootUnitName) { Timeout = QuickTimeout });
        step.Message = rule || unit
            ? $"wrote {string.Join(", ", new[] { rule ? UdevRuleFile : null, unit ? BootUnitFile : null }.OfType<string>())}; {BootUnitName} enabled"
            : $"{UdevRuleFile} and {BootUnitFile} were in place; {BootUnitName} enabled";
    }

    private async Task<JobResult> VerifyAsync(JobContext context, JobStepScope step, HostFacts host, HostDriverInstallRequest request, IReadOnlyList<string> packages)
    {
        var version = request.Version;
        var modinfo = await context.RunAsync(commands, new HostCommand("modinfo", "-F", "version", "nvidia") { Timeout = QuickTimeout });
        var installed = modinfo.Succeeded ? modinfo.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() : null;
        if (installed is null)
        {
            throw new JobFailedException(JobContext.CommandFailed(new HostCommand("modinfo", "-F", "version", "nvidia"), modinfo,
                "`dkms status` and /var/lib/dkms/nvidia/*/build/make.log say why the module was not built; check that the headers match the running kernel.",
                $"No nvidia module is installed for the running kernel {host.Kernel}."));
        }

        if (version is not null && installed != version)
        {
            throw new JobFailedException(new JobError("versionMismatch", $"The installed module is {installed}, not the requested {version}."));
        }

        var loaded = await loadedDriver.ReadVersionAsync(context.Cancellation);
        var rebootRequired = loaded != installed || host.NouveauBound;
        if (!rebootRequired)
        {
            await context.RunCheckedAsync(commands, new HostCommand("nvidia-smi") { Timeout = QuickTimeout });
        }

        step.Message = rebootRequired
            ? $"installed {installed}; loaded {loaded ?? "none"}: reboot the host to load it, then re-sync the containers (POST /api/v1/host/driver/resync)"
            : $"{installed} is installed and loaded; nvidia-smi works";
        return new JobResult(loaded, installed, rebootRequired, EnumNames.Of(request.Method),
            request is { Method: HostInstallMethod.RunInstaller, RunInstaller: { } runInstaller } ? [runInstaller] : packages);
    }

    /// <summary>The recommendation in nvidia-detect's output: the indented line after "It is recommended to install the".</summary>
    public static string? ParseNvidiaDetect(string output)
    {
        var match = NvidiaDetectPattern().Match(output);
        return match.Success && DriverInputs.IsPackage(match.Groups["package"].Value) ? match.Groups["package"].Value : null;
    }

    /// <summary>Creates the nodes when the modules load (the driver does not, without X).</summary>
    public const string UdevRule = """
        # Written by GpuLxc: create the NVIDIA device nodes when the modules load, for containers to bind.
        ACTION=="add", KERNEL=="nvidia", RUN+="/usr/bin/nvidia-smi -L"
        ACTION=="add", KERNEL=="nvidia_uvm", RUN+="/usr/bin/nvidia-modprobe -c0 -u"
        ACTION=="add", KERNEL=="nvidia_modeset", RUN+="/usr/bin/nvidia-modprobe -c0 -m"

        """;

    /// <summary>Creates every node before containers start: Proxmox starts them from pve-guests.service, LXC from lxc.service.</summary>
    public static string BootUnit(HostBackend backend)
    {
        var before = backend switch
        {
            HostBackend.Proxmox => "Before=pve-guests.service\n",
            HostBackend.Lxc => "Before=lxc.service\n",
            _ => "",
        };
        return "# Written by GpuLxc.\n[Unit]\nDescription=Create the NVIDIA device nodes before containers start\n" +
               "After=systemd-modules-load.service\n" + before +
               "\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/usr/bin/nvidia-smi -L\n" +
               "ExecStart=/usr/bin/nvidia-modprobe -c0 -u\nExecStart=-/usr/bin/nvidia-modprobe -c0 -m\n" +
               "\n[Install]\nWantedBy=multi-user.target\n";
    }

    private async Task<bool> WriteIfChangedAsync(JobContext context, string hostPath, string content)
    {
        if (await files.TryReadTextAsync(hostPath, context.Cancellation) == content)
        {
            await context.LogAsync($"{hostPath} is already as GpuLxc writes it");
            return false;
        }

        files.CreateDirectory(Path.GetDirectoryName(hostPath)!);
        await files.WriteAtomicAsync(hostPath, Encoding.UTF8.GetBytes(content), context.Cancellation);
        await context.LogAsync($"wrote {hostPath}");
        return true;
    }

    private Task<HostCommandResult> AptAsync(JobContext context, string[] arguments) =>
        context.RunCheckedAsync(commands, new HostCommand("apt-get", arguments) { Timeout = AptTimeout, Environment = AptEnvironment },
            "Another apt or dpkg may hold the lock, or the repositories may need `apt update`; the log has apt's output.");

    private static JobFailedException Precondition(string message, string? fix) => new(new JobError("preconditionFailed", message, Fix: fix));

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")]
    private static partial Regex KernelPattern();

    [GeneratedRegex(@"It is recommended to install the\s*\n\s*(?<package>\S+)\s*\n\s*package", RegexOptions.Multiline)]
    private static partial Regex NvidiaDetectPattern();
}
