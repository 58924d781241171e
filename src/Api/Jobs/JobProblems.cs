using GpuLxc.Api.Infrastructure;

namespace GpuLxc.Api.Jobs;

/// <summary>The problems of the job routes and of starting a job: thrown (or mapped from <see cref="JobConflictException"/>), declared by the routes.</summary>
public static class JobProblems
{
    public static readonly ApiProblem NotFound = new(StatusCodes.Status404NotFound, "urn:gpulxc:problem:no-such-job", "No such job.");

    /// <summary>Only a queued or running job can be cancelled.</summary>
    public static readonly ApiProblem Finished = new(StatusCodes.Status409Conflict, "urn:gpulxc:problem:job-finished", "The job has finished.");

    /// <summary>A job the requested one conflicts with is queued or running; the answer names it in <c>jobId</c> and <c>Location</c>.</summary>
    public static readonly ApiProblem Conflict = new(StatusCodes.Status409Conflict, "urn:gpulxc:problem:job-conflict", "Another job is working on this target.");

    /// <summary>404; the id is quoted only when it has the form of one GpuLxc issues, so no control character or markup a
    /// caller sent is echoed into a log or a page that shows the detail.</summary>
    public static ProblemException NoSuchJob(string jobId) => NotFound.With(
        $"There is no job {IssuedIds.Quote(jobId)}. GET /api/v1/jobs lists them.");

    /// <summary>409 naming the queued or running job that the request conflicts with, with its location.</summary>
    public static ProblemException ConflictWith(JobConflictException conflict)
    {
        var running = conflict.Running.Id;
        return new ProblemException(Conflict,
            conflict.Message + " Work on one target is serialised: one package run at a time on the host, one job per container, none during a re-sync.",
            $"Wait for it (GET /api/v1/jobs/{running}?waitSeconds=60) or cancel it (DELETE), then retry.")
        {
            Extensions = { ["jobId"] = running },
            Headers = { ["Location"] = $"/api/v1/jobs/{running}" },
        };
    }
}
