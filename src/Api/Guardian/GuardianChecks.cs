using GpuLxc.Api.Diagnostics;
using GpuLxc.Api.Inventory;
using GpuLxc.Api.Jobs;

namespace GpuLxc.Api.Guardian;

/// <summary>The diagnostics of upgrades: staged kernels without a module, a driver that cannot drive the GPU or build for the kernel, and what the guardian saw.</summary>
public sealed class GuardianChecks(HostObserver observer, UpgradeGuardian guardian, JobStore jobs)
{
    /// <summary><c>staged-kernel-modules</c>: every installed kernel newer than the running one has the NVIDIA module built.</summary>
    public async Task<DiagnosticCheck> StagedKernelsAsync(CancellationToken cancellationToken)
    {
        const string Id = "staged-kernel-modules", Title = "Every newer installed kernel has the NVIDIA module built";
        var host = await observer.ReadAsync(cancellationToken);
        if (host.StagedKernels.Count == 0)
        {
            return new(Id, Title, CheckStatus.Pass, $"No installed kernel is newer than the running one ({host.Kernel ?? "unknown"}).", null);
        }

        var missing = host.StagedKernels.Where(k => !k.ModuleBuilt).ToList();
        if (missing.Count == 0)
        {
            return new(Id, Title, CheckStatus.Pass, string.Join("; ", host.StagedKernels.Select(k => $"{k.Kernel}: nvidia {k.ModuleVersion} built")), null);
        }

        var detail = string.Join(" ", missing.Select(k =>
            $"After the next reboot into {k.Kernel} the GPU is gone: no NVIDIA module is built for it" +
            (k.Dkms.Count > 0 ? $" (DKMS: {string.Join(", ", k.Dkms)})." : ".") +
            string.Concat(k.Findings.Select(f => $" {f.Message} (source: {f.Source})"))));
        var first = missing[0];
        var fix = first.Findings.Count > 0
            ? $"{first.Findings[0].Fix} Then build it: POST /api/v1/host/driver/build {{\"kernel\":\"{first.Kernel}\"}}."
            : $"Build it before rebooting: POST /api/v1/host/driver/build {{\"kernel\":\"{first.Kernel}\"}} (installs the kernel's headers, then `dkms autoinstall -k {first.Kernel}`); " +
              "or keep booting the running kernel until it is built.";
        return new(Id, Title, CheckStatus.Fail, detail, fix);
    }

    /// <summary><c>driver-supports-gpu</c>: the installed (else loaded) driver's branch and flavor drive every GPU, and it builds for the running kernel.</summary>
    public static DiagnosticCheck DriverSupportsGpus(HostDriver driver, IReadOnlyList<Gpu> gpus, string? kernel)
    {
        const string Id = "driver-supports-gpu", Title = "The host's driver can drive its GPUs and builds for its kernel";
        var version = driver.InstalledVersion ?? driver.LoadedVersion;
        if (version is null || gpus.Count == 0)
        {
            return new(Id, Title, CheckStatus.Skip, version is null ? "No driver is installed or loaded." : "No NVIDIA GPU is present.", null);
        }

        var findings = DriverCompatibility.CheckGpus(gpus, DriverCompatibility.Branch(version), driver.Flavor == DriverFlavor.Open)
            .Concat(DriverCompatibility.CheckKernel(kernel, version)).ToList();
        return findings.Count == 0
            ? new(Id, Title, CheckStatus.Pass, $"Driver {version} drives " +
                string.Join(", ", gpus.Where(g => g.KernelDriver != "vfio-pci").Select(g => $"{g.PciAddress} ({GpuGenerations.FromDeviceId(g.DeviceId)})")) +
                (kernel is null ? "." : $"; no known build break with kernel {kernel}."), null)
            : new(Id, Title, CheckStatus.Fail, string.Join(" ", findings.Select(f => $"{f.Message} (source: {f.Source})")), findings[0].Fix);
    }

    /// <summary><c>upgrade-guardian</c>: the guardian watches, and no module change left containers behind.</summary>
    public async Task<DiagnosticCheck> GuardianAsync(CancellationToken cancellationToken)
    {
        const string Id = "upgrade-guardian", Title = "Containers followed the last driver change";
        var status = guardian.Status();
        if (status.Policy == RepairPolicy.Off)
        {
            return new(Id, Title, CheckStatus.Skip, "GpuLxc:Guardian:Policy is off: driver and kernel changes are not watched.", null);
        }

        var watching = $"policy {status.Policy.ToString().ToLowerInvariant()}, checks every {status.CheckSeconds} s" +
                       (status.Watching.Count > 0 ? $", watching {string.Join(", ", status.Watching)}" : "") +
                       (status.CheckedAt is { } at ? $", last check {at:u}" : ", first check pending");
        if (status.LastDriverChange is not { } change)
        {
            return new(Id, Title, CheckStatus.Pass, $"No module change seen ({watching}).", null);
        }

        var resynced = (await jobs.ListAsync(JobState.Succeeded, JobKind.DriverResync, null, 1, cancellationToken)).Any(j => j.CreatedAt >= change.At);
        return change.MismatchedContainers.Count > 0 && !resynced
            ? new(Id, Title, CheckStatus.Warn,
                $"The module changed {change.Previous} → {change.Current} at {change.At:u}; container(s) {string.Join(", ", change.MismatchedContainers)} still run another userspace driver ({watching}).",
                "Re-sync them: POST /api/v1/host/driver/resync; or let GpuLxc do it after every change: GpuLxc:Guardian:Policy=auto.")
            : new(Id, Title, CheckStatus.Pass, $"The module changed {change.Previous} → {change.Current} at {change.At:u}; " +
                (resynced ? "a re-sync succeeded since." : "no container was left behind.") + $" ({watching})", null);
    }
}
