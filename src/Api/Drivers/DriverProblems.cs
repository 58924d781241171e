using GpuLxc.Api.Infrastructure;

namespace GpuLxc.Api.Drivers;

/// <summary>
/// The preconditions of the driver jobs (design: 409 with the fix): checked when a job is requested, and again when
/// it runs, where a failing one ends the job <c>preconditionFailed</c> with the same message and fix.
/// </summary>
public static class DriverProblems
{
    public static readonly ApiProblem NoGpuAttached = new(StatusCodes.Status409Conflict, "urn:gpulxc:problem:no-gpu-attached", "No GPU is attached to the container.");

    public static readonly ApiProblem NotRunning = new(StatusCodes.Status409Conflict, "urn:gpulxc:problem:container-not-running", "The container is not running.");

    /// <summary>No NVIDIA kernel module is loaded: there is no version for a container to match.</summary>
    public static readonly ApiProblem HostDriverNotLoaded = new(StatusCodes.Status409Conflict, "urn:gpulxc:problem:host-driver-not-loaded", "The host driver is not loaded.");

    /// <summary>The container's <c>/etc/os-release</c> could not be read.</summary>
    public static readonly ApiProblem UnknownDistribution = new(StatusCodes.Status409Conflict, "urn:gpulxc:problem:unknown-distribution",
        "The container's distribution is unknown.");

    /// <summary>Alpine is built on musl; NVIDIA's libraries need glibc.</summary>
    public static readonly ApiProblem MuslDistribution = new(StatusCodes.Status409Conflict, "urn:gpulxc:problem:musl-distribution",
        "Alpine containers cannot run NVIDIA's userspace driver.");

    /// <summary><c>method: apt</c> asked of a container that is neither Debian nor Ubuntu.</summary>
    public static readonly ApiProblem AptUnsupported = new(StatusCodes.Status409Conflict, "urn:gpulxc:problem:apt-unsupported",
        "apt cannot install the driver in this container.");

    /// <summary>The container is attached with <c>userspace: host</c>: the host's files are bound in read-only, there is nothing to install.</summary>
    public static readonly ApiProblem HostUserspace = new(StatusCodes.Status409Conflict, "urn:gpulxc:problem:host-userspace",
        "The container uses the host's driver userspace.");

    /// <summary>What <see cref="GuestDrivers.PreflightAsync"/> refuses a job inside a container with (install, verify, re-sync).</summary>
    public static IReadOnlyList<ApiProblem> GuestPreconditions { get; } = [NoGpuAttached, NotRunning, HostDriverNotLoaded];
}
