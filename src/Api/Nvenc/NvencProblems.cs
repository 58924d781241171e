using System.Globalization;
using GpuLxc.Api.Infrastructure;

namespace GpuLxc.Api.Nvenc;

/// <summary>The problems of the NVENC guard: thrown by <see cref="NvencGuard"/> and the lease routes, declared by those routes.</summary>
public static class NvencProblems
{
    /// <summary>Every slot of the budget is taken (or the container's quota is): retry after <c>Retry-After</c>.</summary>
    public static readonly ApiProblem BudgetFull = new(StatusCodes.Status429TooManyRequests, "urn:gpulxc:problem:nvenc-budget-full", "The NVENC budget is full.");

    /// <summary>The lease does not exist, expired or was released.</summary>
    public static readonly ApiProblem LeaseNotFound = new(StatusCodes.Status404NotFound, "urn:gpulxc:problem:no-such-lease", "No such lease.");

    /// <summary>Only the key that acquired a lease, or an admin key, may renew or release it.</summary>
    public static readonly ApiProblem NotOwner = new(StatusCodes.Status403Forbidden, "urn:gpulxc:problem:lease-of-another-key", "The lease belongs to another key.");

    /// <summary>The lease asks for a GPU that has no NVENC budget.</summary>
    public static readonly ApiProblem NoSuchGpu = new(StatusCodes.Status409Conflict, "urn:gpulxc:problem:no-such-nvenc-gpu", "No such NVENC GPU.");

    /// <summary>The lease names a container the host does not have: its sessions could never be matched to it.</summary>
    public static readonly ApiProblem UnknownContainer = new(StatusCodes.Status409Conflict, "urn:gpulxc:problem:lease-for-unknown-container", "No such container on this host.");

    public static readonly ApiProblem NoEncoder = new(StatusCodes.Status409Conflict, "urn:gpulxc:problem:no-nvenc-encoder", "This host has no NVENC encoder.");

    public static ProblemException NoContainer(string containerId, string configPath) =>
        new(UnknownContainer, $"There is no container '{containerId}' on this host ({configPath} does not exist), so no encode could run in it.",
            "Name a container GET /api/v1/containers lists, or leave containerId out for an encode on the host.")
        {
            Errors = { ["containerId"] = [$"containerId '{containerId}' is not a container of this host."] },
        };

    public static ProblemException NoSuchLease(string leaseId) =>
        LeaseNotFound.With($"Lease {IssuedIds.Quote(leaseId)} does not exist, expired or was released. Acquire a new one.");

    /// <summary>429 with <c>Retry-After</c> and <c>retryAfterSeconds</c>: when the earliest lease of the budget lapses.</summary>
    public static ProblemException BudgetFullFor(string? refusal, int retryAfterSeconds) => new(BudgetFull, refusal)
    {
        Extensions = { ["retryAfterSeconds"] = retryAfterSeconds },
        Headers = { ["Retry-After"] = retryAfterSeconds.ToString(CultureInfo.InvariantCulture) },
    };
}
