using GpuLxc.Api.Infrastructure;

namespace GpuLxc.Api.Guardian;

/// <summary>What the compatibility rules refuse a host install with (409, with the right branch or version as the fix).</summary>
public static class GuardianProblems
{
    /// <summary>The requested branch is past the last one that drives a GPU of the host, or the open module was asked for a pre-Turing GPU.</summary>
    public static readonly ApiProblem DriverUnsupportedGpu = new(StatusCodes.Status409Conflict, "urn:gpulxc:problem:driver-unsupported-gpu",
        "The driver cannot drive this host's GPU.");

    /// <summary>The requested version is known not to build for the running kernel.</summary>
    public static readonly ApiProblem KernelDriverIncompatible = new(StatusCodes.Status409Conflict, "urn:gpulxc:problem:kernel-driver-incompatible",
        "The driver does not build for this host's kernel.");
}
