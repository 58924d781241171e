using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Hosts;
using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.Jobs;

namespace GpuLxc.Api.Drivers;

/// <summary>
/// The commands of a guest install, run inside the container through the backend's exec: the host's exact version
/// from apt (then held) or from the host version's <c>.run</c> installer, and the check that <c>nvidia-smi</c> inside
/// reports the host's version.
/// </summary>
public sealed class GuestInstaller(IHostCommandRunner commands, IHostFileSystem files, JobStore jobs)
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

    /// <summary>Finds the packages of exactly the host's version and installs them pinned; never a branch match.</summary>
    public async Task<IReadOnlyList<string>> InstallAptAsync(JobContext context, GuestTarget target)
    {
        if (target.Family is not (OsFamily.Debian or OsFamily.Ubuntu))
        {
            throw new JobFailedException(new JobError("preconditionFailed",
                $"{target.Os.PrettyName ?? target.Os.Id ?? "The container's distribution"} has no apt packages of NVIDIA's driver.",
                Fix: "Use method runInstaller."));
        }

        await context.RunCheckedAsync(commands, Exec(target, ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "update"], AptTimeout));
        var sets = AptCandidates.PackageSets(target.Family, target.HostVersion);
        var madison = await context.RunCheckedAsync(commands, Exec(target, ["apt-cache", "madison", .. sets.SelectMany(s => s).Distinct()], GuestDrivers.ExecTimeout));
        var hostSuite = target.Family == OsFamily.Debian ? await HostCodenameAsync(context.Cancellation) : null;
        var (pins, found) = AptCandidates.Choose(sets, AptCandidates.ParseMadison(madison.StandardOutput), target.HostVersion,
            suite => hostSuite is null || suite == hostSuite || suite.StartsWith(hostSuite + "-", StringComparison.Ordinal));
        if (pins is null)
        {
            throw new JobFailedException(new JobError("noExactVersion",
                $"apt in container {target.ContainerId} offers no package set of exactly {target.HostVersion} " +
                $"{(hostSuite is null ? "" : $"from the host's suite {hostSuite} ")}(found {found}). A branch match is never installed: NVML would fail with 'Driver/library version mismatch'.",
                Fix: $"Use method runInstaller with NVIDIA-Linux-x86_64-{target.HostVersion}.run, or add a repository that has {target.HostVersion}."));
        }

        await context.RunCheckedAsync(commands, Exec(target,
            ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "--no-install-recommends", "--allow-downgrades", "--allow-change-held-packages", .. pins],
            AptTimeout));
        return pins;
    }

    /// <summary><c>apt-mark hold</c>: an upgrade inside the container must not move it off the host's version.</summary>
    public async Task HoldAsync(JobContext context, GuestTarget target, IReadOnlyList<string> pins) =>
        await context.RunCheckedAsync(commands, Exec(target, ["apt-mark", "hold", .. pins.Select(p => p.Split('=')[0])], GuestDrivers.ExecTimeout));

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

    /// <summary><c>nvidia-smi</c> inside the container works and reports the host's version; otherwise the mismatch, spelled out.</summary>
    public async Task<string> VerifyAsync(JobContext context, GuestTarget target)
    {
        var query = Exec(target, ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"], GuestDrivers.ExecTimeout);
        var result = await context.RunAsync(commands, query);
        var reported = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
        if (result.Succeeded && reported is [var version] && version == target.HostVersion)
        {
            return version;
        }

        var libraries = GuestDrivers.ParseLibraryVersions((await context.RunAsync(commands, GuestDrivers.FindLibraries(target.Backend, target.ContainerId))).StandardOutput);
        var has = libraries.Count == 0 ? "no libnvidia-ml" : $"libnvidia-ml {string.Join(", ", libraries)}";
        var message = result.Succeeded
            ? $"nvidia-smi in container {target.ContainerId} reports {string.Join(", ", reported)}, but the host's kernel module is {target.HostVersion}."
            : $"nvidia-smi in container {target.ContainerId} failed (exit code {result.ExitCode}: {(result.StandardOutput + result.StandardError).Trim()}); the container has {has}, the host's kernel module is {target.HostVersion}.";
        throw new JobFailedException(new JobError("versionMismatch", message, Command: query.ToString(), ExitCode: result.ExitCode,
            StderrTail: result.StandardError.Trim() is { Length: > 0 } stderr ? stderr : null,
            Fix: $"POST /api/v1/containers/{target.ContainerId}/driver/install installs exactly {target.HostVersion}."))
        {
            Result = new JobResult(HostVersion: target.HostVersion, InstalledVersion: libraries.Count > 0 ? libraries[^1] : null, Match: false),
        };
    }

    private static HostCommand Exec(GuestTarget target, IReadOnlyList<string> argv, TimeSpan timeout) =>
        target.Backend.Exec(target.ContainerId, argv) with { Timeout = timeout };

    private async Task<string?> HostCodenameAsync(CancellationToken cancellationToken) =>
        OsRelease.Parse(await files.TryReadTextAsync("/etc/os-release", cancellationToken) ?? "").GetValueOrDefault("VERSION_CODENAME");
}
