namespace GpuLxc.Api.Jobs;

/// <summary>What a job does.</summary>
public enum JobKind
{
    /// <summary>Installs the NVIDIA driver on the host (<c>POST /api/v1/host/driver/install</c>).</summary>
    HostDriverInstall,

    /// <summary>Installs the host's exact userspace driver in a container.</summary>
    GuestDriverInstall,

    /// <summary>Checks from inside a container that the GPU is usable.</summary>
    GuestVerify,

    /// <summary>Brings every attached container's userspace driver to the host's version.</summary>
    DriverResync,

    /// <summary>Builds the NVIDIA module for an installed kernel newer than the running one (headers + DKMS), before the host reboots into it.</summary>
    KernelModuleBuild,
}

/// <summary>The kinds of job another job's kind keeps from starting while it is queued or running.</summary>
/// <param name="Anywhere">Kinds refused whatever their target.</param>
/// <param name="SameTarget">Kinds refused on the same target only.</param>
public sealed record JobExclusion(IReadOnlyList<JobKind> Anywhere, IReadOnlyList<JobKind> SameTarget);

/// <summary>The rules that go with each <see cref="JobKind"/>: what it may not run beside, and what it runs on the host.</summary>
public static class JobKinds
{
    private static readonly JobKind[] PackageRuns = [JobKind.HostDriverInstall, JobKind.DriverResync, JobKind.KernelModuleBuild];
    private static readonly JobKind[] ContainerJobs = [JobKind.GuestDriverInstall, JobKind.GuestVerify];

    /// <summary>
    /// Work on one target is serialised by refusing: one apt/dpkg at a time on the host (host installs, re-syncs, module builds), one
    /// job per container, and no container job while a re-sync (which reinstalls in every attached container) is queued
    /// or running. The rule is symmetric: a kind excludes exactly the kinds that exclude it.
    /// </summary>
    public static JobExclusion Excludes(this JobKind kind) => kind switch
    {
        JobKind.HostDriverInstall or JobKind.KernelModuleBuild => new(PackageRuns, []),
        JobKind.DriverResync => new([.. PackageRuns, .. ContainerJobs], []),
        JobKind.GuestDriverInstall or JobKind.GuestVerify => new([JobKind.DriverResync], ContainerJobs),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "A job kind without exclusion rules."),
    };

    /// <summary>Whether the job runs apt, dpkg or an installer: cancelling it half-way may leave packages to configure.</summary>
    public static bool InstallsPackages(this JobKind kind) =>
        kind is JobKind.HostDriverInstall or JobKind.GuestDriverInstall or JobKind.DriverResync or JobKind.KernelModuleBuild;
}
