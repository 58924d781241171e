using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Jobs;

namespace GpuLxc.Api.Drivers;

/// <summary>
/// Installs the host's exact userspace driver in one container.
/// With the docker profile, the driver's steps are followed by the profile's (<see cref="DockerProfileSetup"/>); a container
/// attached with <c>userspace: host</c> then skips install and hold (the host's files are bound in) and gets only those.
/// </summary>
internal sealed class GuestDriverInstallWork(GuestDrivers guests, GuestInstaller installer, DockerProfileSetup docker) : JobWork<GuestDriverInstallRequest>
{
    public override JobKind Kind => JobKind.GuestDriverInstall;

    public override IReadOnlyList<(string Name, string Title)> PlanSteps(GuestDriverInstallRequest request) =>
    [
        ("preflight", "Check that the container runs, has a GPU attached, and that the host driver is loaded"),
        ("detectOs", "Read the container's /etc/os-release"),
        ("install", "Install the userspace driver of exactly the host's version"),
        ("hold", "Hold the packages at that version"),
        ("verify", "Check that nvidia-smi inside reports the host's version"),
        .. request.Profile == GuestInstallProfile.Docker ? DockerSteps : [],
    ];

    private static readonly (string Name, string Title)[] DockerSteps =
    [
        ("features", "Give the container the features Docker needs (nesting; keyctl when unprivileged)"),
        ("docker", "Read the Docker Engine version inside"),
        ("toolkit", $"Install the NVIDIA container toolkit, {DockerProfile.ToolkitFloor} or newer, from apt"),
        ("configure", "Set no-cgroups, register the nvidia runtime with Docker, generate the CDI spec"),
        ("restart", "Restart the container when its features changed and the request asks"),
    ];

    public override async Task<JobResult?> RunAsync(GuestDriverInstallRequest request, JobContext context)
    {
        var docker = request.Profile == GuestInstallProfile.Docker;
        var hostUserspace = docker && await guests.UsesHostUserspaceAsync(context.Target, context.Cancellation);
        var target = await PreflightAndDetectAsync(context, guests, hostUserspaceAllowed: docker);
        var method = GuestInstaller.Resolve(request.Method, target.Family);
        var pins = await context.StepAsync("install", async step =>
        {
            if (hostUserspace)
            {
                step.Skip("The attachment binds the host's driver files in (userspace host): nothing to install.");
                return (IReadOnlyList<string>)[];
            }

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
                step.Skip(hostUserspace ? "Nothing was installed." : "The .run installer installs no packages to hold.");
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
        var result = new JobResult(target.HostVersion, version, Method: hostUserspace ? GuestDrivers.HostMethod : GuestInstaller.MethodName(method), Packages: pins, Match: true);
        return docker ? await DockerAsync(request, context, target, result) : result;
    }

    /// <summary>The docker profile's steps, after the driver's.</summary>
    private async Task<JobResult> DockerAsync(GuestDriverInstallRequest request, JobContext context, GuestTarget target, JobResult driver)
    {
        var features = await context.StepAsync("features", async step =>
        {
            var outcome = await docker.FeaturesAsync(context, target);
            step.Message = outcome.Message;
            return outcome;
        });
        var engine = await context.StepAsync("docker", async step =>
        {
            var version = await docker.DockerAsync(context, target);
            step.Message = $"Docker {version.Text}: {(version.CdiOnByDefault ? "CDI on by default (28.2 and later)" : version.SupportsCdi ? "CDI available, off by default before 28.2" : "no CDI before Docker 25: the nvidia runtime only")}";
            return version;
        });
        var (toolkit, toolkitInstalled) = await context.StepAsync("toolkit", async step =>
        {
            var outcome = await docker.ToolkitAsync(context, target);
            step.Message = outcome.Installed
                ? $"installed {string.Join(" ", DockerProfile.ToolkitPackages.Select(p => $"{p}={outcome.Version}"))}"
                : $"nvidia-container-toolkit {outcome.Version} is installed already (at least {DockerProfile.ToolkitFloor}); nothing changed";
            return outcome;
        });
        var changed = await context.StepAsync("configure", async step =>
        {
            var done = await docker.ConfigureAsync(context, target, engine);
            step.Message = done.Count == 0
                ? $"no-cgroups = true, the nvidia runtime{(engine.SupportsCdi ? " and the CDI spec" : "")} were in place already; nothing changed"
                : string.Join("; ", done);
            return done;
        });
        var restartRequired = features.RestartOwed;
        var restarted = await context.StepAsync("restart", async step =>
        {
            if (!features.RestartOwed)
            {
                step.Skip("The container runs with the features it has.");
                return false;
            }

            if (!request.Restart)
            {
                step.Skip($"The new features apply from the container's next start: restart it (`pct reboot {target.ContainerId}`), or POST again with restart: true.");
                return false;
            }

            await target.Backend.RestartAsync(target.ContainerId, context.Cancellation);
            step.Message = $"restarted container {target.ContainerId}: features {features.Features} apply";
            return true;
        });
        IReadOnlyList<string> all = [.. features.Changed ? [$"features: {features.Features}"] : Array.Empty<string>(),
            .. toolkitInstalled ? [$"nvidia-container-toolkit {toolkit}"] : Array.Empty<string>(), .. changed, .. restarted ? ["container restarted"] : Array.Empty<string>()];
        return driver with
        {
            RestartRequired = restartRequired && !restarted,
            Docker = new DockerSetup(features.Features, features.Changed, restarted, engine.Text, toolkit, engine.SupportsCdi, all),
        };
    }

    /// <summary>The preflight and detectOs steps that every guest job shares.</summary>
    public static async Task<GuestTarget> PreflightAndDetectAsync(JobContext context, GuestDrivers guests, bool hostUserspaceAllowed = false)
    {
        var (backend, hostVersion) = await context.StepAsync("preflight", async step =>
        {
            var checkedTarget = await guests.PreflightAsync(context.Target, context.Cancellation);
            if (!hostUserspaceAllowed)
            {
                await guests.RefuseHostUserspaceAsync(context.Target, context.Cancellation);
            }

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
