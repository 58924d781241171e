using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Jobs;

namespace GpuLxc.Api.Drivers;

/// <summary>Installs the host's exact userspace driver in one container.</summary>
internal sealed class GuestDriverInstallWork(GuestDrivers guests, GuestInstaller installer) : JobWork<GuestDriverInstallRequest>
{
    public override JobKind Kind => JobKind.GuestDriverInstall;

    public override IReadOnlyList<(string Name, string Title)> PlanSteps(GuestDriverInstallRequest request) =>
    [
        ("preflight", "Check that the container runs, has a GPU attached, and that the host driver is loaded"),
        ("detectOs", "Read the container's /etc/os-release"),
        ("install", "Install the userspace driver of exactly the host's version"),
        ("hold", "Hold the packages at that version"),
        ("verify", "Check that nvidia-smi inside reports the host's version"),
    ];

    public override async Task<JobResult?> RunAsync(GuestDriverInstallRequest request, JobContext context)
    {
        var target = await PreflightAndDetectAsync(context, guests);
        var method = GuestInstaller.Resolve(request.Method, target.Family);
        var pins = await context.StepAsync("install", async step =>
        {
            if (method == GuestInstallMethod.Apt)
            {
                var installed = await installer.InstallAptAsync(context, target);
                step.Message = $"apt: {string.Join(' ', installed.Pins)}{(installed.Repositories.Count > 0 ? $" from {string.Join("; ", installed.Repositories)}" : "")}";
                return installed.Pins;
            }

            var path = await installer.InstallerAsync(request.RunInstaller, target.HostVersion, context.Cancellation);
            await installer.InstallRunAsync(context, target, path);
            step.Message = $"{path} --no-kernel-modules --silent";
            return (IReadOnlyList<string>)[];
        });
        await context.StepAsync("hold", async step =>
        {
            if (pins.Count == 0)
            {
                step.Skip("The .run installer installs no packages to hold.");
                return;
            }

            await installer.HoldAsync(context, target, pins);
            step.Message = $"held {string.Join(", ", pins.Select(p => p.Split('=')[0]))}";
        });
        var version = await context.StepAsync("verify", async step =>
        {
            var reported = await installer.VerifyAsync(context, target);
            step.Message = $"nvidia-smi reports {reported}, the host's version";
            return reported;
        });
        return new JobResult(target.HostVersion, version, Method: GuestInstaller.MethodName(method), Packages: pins, Match: true);
    }

    /// <summary>The preflight and detectOs steps that every guest job shares.</summary>
    public static async Task<GuestTarget> PreflightAndDetectAsync(JobContext context, GuestDrivers guests)
    {
        var (backend, hostVersion) = await context.StepAsync("preflight", async step =>
        {
            var checkedTarget = await guests.PreflightAsync(context.Target, context.Cancellation);
            await guests.RefuseHostUserspaceAsync(context.Target, context.Cancellation);
            step.Message = $"running, GPU attached, host module {checkedTarget.HostVersion}";
            return checkedTarget;
        });
        return await context.StepAsync("detectOs", async step =>
        {
            var target = await guests.DetectOsAsync(backend, context.Target, hostVersion, context.Cancellation);
            step.Message = $"{target.Os.PrettyName ?? target.Os.Id} ({EnumNames.Of(target.Family)})";
            return target;
        });
    }
}
