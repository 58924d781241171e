using GpuLxc.Api.Containers;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Hosts;
using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.Jobs;

namespace GpuLxc.Api.Drivers;

/// <summary>
/// The commands of a guest install, run inside the container through the backend's exec: the host's exact version
/// from apt (then held) or from the host version's <c>.run</c> installer, and the check that <c>nvidia-smi</c> inside
/// reports the host's version. The apt path is in <c>GuestInstaller.Apt.cs</c>.
/// </summary>
public sealed partial class GuestInstaller(IHostCommandRunner commands, IHostFileSystem files, JobStore jobs)
{
    private static readonly TimeSpan AptTimeout = TimeSpan.FromMinutes(20);
    private static readonly TimeSpan InstallerTimeout = TimeSpan.FromMinutes(20);
    private static readonly TimeSpan CopyTimeout = TimeSpan.FromMinutes(5);

    /// <summary><c>auto</c>: apt where the distribution has NVIDIA's packages, else the <c>.run</c> installer.</summary>
    public static GuestInstallMethod Resolve(GuestInstallMethod requested, OsFamily family) => requested switch
    {
        GuestInstallMethod.Auto => family is OsFamily.Debian or OsFamily.Ubuntu ? GuestInstallMethod.Apt : GuestInstallMethod.RunInstaller,
        _ => requested,
    };

    public static string MethodName(GuestInstallMethod method) => EnumNames.Of(method);

    /// <summary>The installer to use: the one asked for, else the one the last successful host install ran.</summary>
    public async Task<string> InstallerAsync(string? requested, string hostVersion, CancellationToken cancellationToken)
    {
        var path = requested ?? (await jobs.LastSucceededAsync(JobKind.HostDriverInstall, JobService.HostTarget, cancellationToken))?.RequestAs<HostDriverInstallRequest>().RunInstaller;
        if (path is null || !DriverInputs.IsRunInstallerPath(path) || !files.FileExists(path))
        {
            throw new JobFailedException(new JobError("preconditionFailed",
                path is null ? "No .run installer is known: the host driver was not installed from one by GpuLxc." : $"The installer {path} is gone from the host.",
                Fix: $"Give runInstaller: the host path of NVIDIA-Linux-x86_64-{hostVersion}.run."));
        }

        if (DriverInputs.VersionOfInstaller(path) is { } version && version != hostVersion)
        {
            throw new JobFailedException(new JobError("versionMismatch",
                $"{path} installs {version}, but the host's kernel module is {hostVersion}; the container must match the host exactly.",
                Fix: $"Give runInstaller: the host path of NVIDIA-Linux-x86_64-{hostVersion}.run."));
        }

        return path;
    }

    /// <summary>Copies the installer in, runs it without kernel modules (the host's are used), and removes the copy.</summary>
    public async Task InstallRunAsync(JobContext context, GuestTarget target, string installer)
    {
        var inside = $"/tmp/gpulxc-{Path.GetFileName(installer)}";
        await context.RunCheckedAsync(commands, target.Backend.PushFile(target.ContainerId, files.LocalPath(installer), inside) with { Timeout = CopyTimeout });
        try
        {
            await context.RunCheckedAsync(commands, Exec(target, ["sh", inside, "--no-kernel-modules", "--silent"], InstallerTimeout),
                "See /var/log/nvidia-installer.log inside the container.");
        }
        finally
        {
            if (!context.Cancellation.IsCancellationRequested)
            {
                await context.RunAsync(commands, Exec(target, ["rm", "-f", inside], GuestDrivers.ExecTimeout));
            }
        }
    }

    /// <summary>The query of the driver version that <c>nvidia-smi</c> inside the container reports.</summary>
    public static HostCommand SmiQuery(IContainerBackend backend, string containerId) =>
        backend.Exec(containerId, ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]) with { Timeout = GuestDrivers.ExecTimeout };

    /// <summary>
    /// <c>nvidia-smi</c> inside the container works and reports the host's version; otherwise the mismatch, spelled out
    /// with nvidia-smi's own words and the version <c>libnvidia-ml.so.1</c> loads (<see cref="NvmlLibraries"/>). When the
    /// host has a newer module installed than loaded and the container already has it, the fix is to reboot the host,
    /// never to install the older version into the container.
    /// </summary>
    /// <exception cref="JobFailedException"><c>versionMismatch</c>; <c>commandFailed</c> when no command runs inside the container at all.</exception>
    public async Task<string> VerifyAsync(JobContext context, GuestTarget target)
    {
        var query = SmiQuery(target.Backend, target.ContainerId);
        var result = await context.RunAsync(commands, query);
        var reported = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
        if (result.Succeeded && reported is [var version] && version == target.HostVersion)
        {
            return version;
        }

        var libraries = await NvmlLibraries.ReadAsync(target.Backend, target.ContainerId, command => context.RunAsync(commands, command));
        if (!result.Succeeded && libraries.Versions.Count == 0 && libraries.Link is null)
        {
            await ThrowIfExecFailsAsync(context, target);
        }

        var has = libraries switch
        {
            { Loaded: { } loaded } => $"libnvidia-ml {loaded}",
            { Versions.Count: > 0 } => $"libnvidia-ml {string.Join(", ", libraries.Versions)} but no libnvidia-ml.so.1 that loads one",
            _ => "no libnvidia-ml",
        };
        var installed = result.Succeeded && reported is [var other] ? other : libraries.Loaded;
        var message = result.Succeeded
            ? $"nvidia-smi in container {target.ContainerId} reports {string.Join(", ", reported)}, but the host's kernel module is {target.HostVersion}."
            : $"nvidia-smi in container {target.ContainerId} failed (exit code {result.ExitCode}: {(result.StandardOutput + result.StandardError).Trim()}); the container has {has}, the host's kernel module is {target.HostVersion}.";
        var notes = string.Join(" ", libraries.Notes(target.HostVersion));
        var pending = await PendingModuleAsync(context, target.HostVersion);
        throw new JobFailedException(new JobError("versionMismatch", notes.Length > 0 ? $"{message} {notes}" : message, Command: query.ToString(), ExitCode: result.ExitCode,
            StderrTail: result.StandardError.Trim() is { Length: > 0 } stderr ? stderr : null,
            Fix: pending is not null && installed == pending
                ? $"Reboot the host: its driver was upgraded to {pending}, which the container already has, but the running kernel still has {target.HostVersion} loaded."
                : $"POST /api/v1/containers/{target.ContainerId}/driver/install installs exactly {target.HostVersion}."))
        {
            Result = new JobResult(HostVersion: target.HostVersion, InstalledVersion: installed, Match: false),
        };
    }

    /// <summary>Fails the job with the backend's own error when not even <see cref="GuestDrivers.ExecProbe"/> runs in the container.</summary>
    /// <exception cref="JobFailedException"><c>commandFailed</c> with the exec command's exit code and stderr.</exception>
    public async Task ThrowIfExecFailsAsync(JobContext context, GuestTarget target)
    {
        var probe = GuestDrivers.ExecProbe(target.Backend, target.ContainerId);
        var probed = await context.RunAsync(commands, probe);
        if (!probed.Succeeded)
        {
            throw new JobFailedException(JobContext.CommandFailed(probe, probed, GuestDrivers.ExecFix(target.Backend, target.ContainerId),
                GuestDrivers.ExecFailure(target.ContainerId, probe, probed)));
        }
    }

    /// <summary>The module version installed on disk for the running kernel when it is not the loaded one (an upgrade waiting for a reboot); else null.</summary>
    private async Task<string?> PendingModuleAsync(JobContext context, string loaded)
    {
        if (commands.FindExecutable("modinfo") is null)
        {
            return null;
        }

        var modinfo = await commands.RunAsync(new HostCommand("modinfo", "-F", "version", "nvidia") { Timeout = GuestDrivers.ExecTimeout }, context.Cancellation);
        var installed = modinfo.Succeeded ? modinfo.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() : null;
        return installed is not null && installed != loaded ? installed : null;
    }

    private static HostCommand Exec(GuestTarget target, IReadOnlyList<string> argv, TimeSpan timeout) =>
        target.Backend.Exec(target.ContainerId, argv) with { Timeout = timeout };
}
