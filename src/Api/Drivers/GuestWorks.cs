using GpuLxc.Api.Attachments;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Jobs;

namespace GpuLxc.Api.Drivers;

/// <summary>Installs the host's exact userspace driver in one container.</summary>
internal sealed class GuestDriverInstallWork(GuestDrivers guests, GuestInstaller installer) : IJobWork
{
    public const string MethodParameter = "method";

    public JobKind Kind => JobKind.GuestDriverInstall;

    public IReadOnlyList<(string Name, string Title)> PlanSteps(IReadOnlyDictionary<string, string> parameters) =>
    [
        ("preflight", "Check that the container runs, has a GPU attached, and that the host driver is loaded"),
        ("detectOs", "Read the container's /etc/os-release"),
        ("install", "Install the userspace driver of exactly the host's version"),
        ("hold", "Hold the packages at that version"),
        ("verify", "Check that nvidia-smi inside reports the host's version"),
    ];

    public async Task<JobResult?> RunAsync(JobContext context)
    {
        var target = await PreflightAndDetectAsync(context, guests);
        var method = GuestInstaller.Resolve(Enum.Parse<GuestInstallMethod>(context.Parameter(MethodParameter) ?? "auto", ignoreCase: true), target.Family);
        var pins = await context.StepAsync("install", async step =>
        {
            if (method == GuestInstallMethod.Apt)
            {
                var installed = await installer.InstallAptAsync(context, target);
                step.Message = $"apt: {string.Join(' ', installed)}";
                return installed;
            }

            var path = await installer.InstallerAsync(context.Parameter(GuestInstaller.RunInstallerParameter), target.HostVersion, context.Cancellation);
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
            step.Message = $"running, GPU attached, host module {checkedTarget.HostVersion}";
            return checkedTarget;
        });
        return await context.StepAsync("detectOs", async step =>
        {
            var target = await guests.DetectOsAsync(backend, context.Target, hostVersion, context.Cancellation);
            step.Message = $"{target.Os.PrettyName ?? target.Os.Id} ({JobStore.Name(target.Family)})";
            return target;
        });
    }
}

/// <summary>Checks from inside a container that the GPU is usable: device nodes, and nvidia-smi at the host's version.</summary>
internal sealed class GuestVerifyWork(GuestDrivers guests, GuestInstaller installer, AttachmentStore attachments, IHostCommandRunner commands) : IJobWork
{
    public JobKind Kind => JobKind.GuestVerify;

    public IReadOnlyList<(string Name, string Title)> PlanSteps(IReadOnlyDictionary<string, string> parameters) =>
    [
        ("preflight", "Check that the container runs, has a GPU attached, and that the host driver is loaded"),
        ("deviceNodes", "Check that the attached device nodes are character devices inside the container"),
        ("nvidiaSmi", "Check that nvidia-smi inside works and reports the host's version"),
    ];

    public async Task<JobResult?> RunAsync(JobContext context)
    {
        var (backend, hostVersion) = await context.StepAsync("preflight", async step =>
        {
            var checkedTarget = await guests.PreflightAsync(context.Target, context.Cancellation);
            step.Message = $"running, GPU attached, host module {checkedTarget.HostVersion}";
            return checkedTarget;
        });
        var target = new GuestTarget(backend, context.Target, hostVersion, OsFamily.Other, new Hosts.OsInfo(null, null, null, null));
        await context.StepAsync("deviceNodes", async step =>
        {
            var record = await attachments.FindAsync(context.Target, context.Cancellation);
            var paths = record?.Nodes.Select(n => n.Path).ToList() ?? [];
            var listing = backend.Exec(context.Target, ["ls", "-l", .. paths]) with { Timeout = GuestDrivers.ExecTimeout };
            var result = await context.RunAsync(commands, listing);
            var present = result.StandardOutput.Split('\n').Where(line => line.StartsWith('c')).Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1]).ToHashSet();
            var missing = paths.Where(p => !present.Contains(p)).ToList();
            if (missing.Count > 0)
            {
                throw new JobFailedException(JobContext.CommandFailed(listing, result,
                    $"Restart the container (its attachment takes effect at start), or PUT /api/v1/containers/{context.Target}/gpu?restart=true.",
                    $"Missing in container {context.Target}: {string.Join(", ", missing)}."));
            }

            step.Message = $"{paths.Count} device nodes present";
        });
        var version = await context.StepAsync("nvidiaSmi", async step =>
        {
            var reported = await installer.VerifyAsync(context, target);
            step.Message = $"nvidia-smi reports {reported}, the host's version";
            return reported;
        });
        return new JobResult(hostVersion, version, Match: true);
    }
}
