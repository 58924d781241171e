using System.Globalization;
using FluentValidation;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Hosts;
using GpuLxc.Api.Inventory;
using GpuLxc.Api.Jobs;

namespace GpuLxc.Api.Guardian;

/// <summary>Which staged kernel to build the NVIDIA module for.</summary>
/// <param name="Kernel">An installed kernel's release (a directory of <c>/lib/modules</c>), e.g. <c>6.8.12-5-pve</c>.</param>
public sealed record KernelModuleBuildRequest(string Kernel);

internal sealed class KernelModuleBuildRequestValidator : AbstractValidator<KernelModuleBuildRequest>
{
    public KernelModuleBuildRequestValidator(IHostFileSystem files)
    {
        RuleFor(r => r.Kernel).Cascade(CascadeMode.Stop)
            .NotEmpty().WithMessage("kernel is required: the release of an installed kernel, as `uname -r` prints it.")
            .Must(HostObserver.IsKernelRelease).WithMessage("kernel must be a kernel release such as 6.8.12-5-pve: digits and a dot first, then letters, digits, '.', '_', '+' and '-'.")
            .Must(kernel => files.DirectoryExists($"/lib/modules/{kernel}")).WithMessage(r => $"kernel {r.Kernel} is not installed: /lib/modules/{r.Kernel} does not exist.");
    }
}

/// <summary>
/// Builds the NVIDIA module for a staged kernel before the host reboots into it: its headers (the package of the
/// host's distribution), then <c>dkms autoinstall -k KERNEL</c> (every DKMS module added, nvidia among them), then
/// a check that kmod finds the module for that kernel. Needs a DKMS install of the driver.
/// </summary>
internal sealed class KernelModuleBuildWork(HostInfoReader hostInfo, HostObserver observer, LoadedDriver loadedDriver, IHostFileSystem files, IHostCommandRunner commands)
    : JobWork<KernelModuleBuildRequest>
{
    private static readonly TimeSpan AptTimeout = TimeSpan.FromMinutes(30);
    private static readonly IReadOnlyDictionary<string, string> AptEnvironment = new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive" };

    public override JobKind Kind => JobKind.KernelModuleBuild;

    public override IReadOnlyList<(string Name, string Title)> PlanSteps(KernelModuleBuildRequest request) =>
    [
        ("preflight", $"Check that {request.Kernel} is installed and the driver is a DKMS one"),
        ("headers", $"Install the headers of {request.Kernel}"),
        ("build", $"Build the NVIDIA module for {request.Kernel} (dkms autoinstall)"),
        ("verify", $"Check that the module loads for {request.Kernel}"),
    ];

    public override async Task<JobResult?> RunAsync(KernelModuleBuildRequest request, JobContext context)
    {
        var kernel = request.Kernel;
        var proxmoxMajor = await context.StepAsync("preflight", async step =>
        {
            if (!HostObserver.IsKernelRelease(kernel) || !files.DirectoryExists($"/lib/modules/{kernel}"))
            {
                throw Precondition($"Kernel {kernel} is not installed (/lib/modules/{kernel}).", "Install the kernel first, or name one of /lib/modules.");
            }

            if (commands.FindExecutable("dkms") is null)
            {
                throw Precondition("DKMS is not installed: the driver was installed without it, so nothing rebuilds the module for another kernel.",
                    "Reinstall the driver with DKMS (POST /api/v1/host/driver/install: Debian's packages, or the .run installer with --dkms).");
            }

            var info = await hostInfo.ReadAsync(context.Cancellation);
            step.Message = $"kernel {kernel} installed; running {info.KernelRelease}";
            return info.ProxmoxVersion is { } pve && int.TryParse(pve.Split('.')[0], CultureInfo.InvariantCulture, out var major) ? major : (int?)null;
        });
        await context.StepAsync("headers", async step =>
        {
            if (files.DirectoryExists($"/lib/modules/{kernel}/build"))
            {
                step.Skip($"/lib/modules/{kernel}/build is there.");
                return;
            }

            var package = proxmoxMajor switch
            {
                >= 8 => $"proxmox-headers-{kernel}",
                not null => $"pve-headers-{kernel}",
                _ => $"linux-headers-{kernel}",
            };
            await context.RunCheckedAsync(commands, new HostCommand("apt-get", "install", "-y", "--no-install-recommends", package) { Timeout = AptTimeout, Environment = AptEnvironment },
                $"Another apt or dpkg may hold the lock, or no repository offers {package} (`apt update`).");
            step.Message = $"apt-get install {package}";
        });
        await context.StepAsync("build", async step =>
        {
            await context.RunCheckedAsync(commands, new HostCommand("dkms", "autoinstall", "-k", kernel) { Timeout = AptTimeout },
                $"/var/lib/dkms/nvidia/*/{kernel}/*/log/make.log (or /var/lib/dkms/nvidia/*/build/make.log) says why; the compatibility check in GET /api/v1/diagnostics names known kernel ↔ driver breaks.");
            step.Message = $"dkms autoinstall -k {kernel}";
        });
        return await context.StepAsync("verify", async step =>
        {
            var version = await observer.ModuleVersionAsync(kernel, context.Cancellation) ?? throw new JobFailedException(new JobError("moduleMissing",
                $"DKMS ran, but kmod finds no nvidia module for {kernel} (modinfo -k {kernel} nvidia).",
                Fix: "`dkms status` shows what was built; the DKMS make.log says why nvidia was not."));
            step.Message = $"nvidia {version} is built for {kernel}";
            return new JobResult(await loadedDriver.ReadVersionAsync(context.Cancellation), version, false);
        });
    }

    private static JobFailedException Precondition(string message, string fix) => new(new JobError("preconditionFailed", message, Fix: fix));
}
