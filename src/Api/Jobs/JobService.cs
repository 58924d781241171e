using GpuLxc.Api.Infrastructure;

namespace GpuLxc.Api.Jobs;

/// <summary>Creates, waits for and cancels jobs.</summary>
public sealed class JobService(JobStore store, IJobExecutor executor, IEnumerable<IJobWork> works, JobCancellations cancellations, JobSignals signals, TimeProvider time)
{
    public const string HostTarget = "host";

    /// <summary>
    /// Creates a queued job and hands it to the executor. Work on one target is serialised by refusing: while a job
    /// it conflicts with is queued or running, <see cref="JobConflictException"/> names that job.
    /// </summary>
    public async Task<Job> StartAsync(JobKind kind, string target, IReadOnlyDictionary<string, string> parameters, string? requestedBy, CancellationToken cancellationToken)
    {
        var work = works.Single(w => w.Kind == kind);
        var job = new Job(
            Guid.CreateVersion7(time.GetUtcNow()).ToString("N"),
            kind,
            target,
            JobState.Queued,
            parameters,
            requestedBy,
            time.GetUtcNow(),
            null,
            null,
            work.PlanSteps(parameters).Select(s => new JobStep(s.Name, s.Title, JobStepState.Pending, null, null, null)).ToList(),
            0,
            false,
            null,
            null,
            0);
        if (await store.CreateAsync(job, ConflictsOf(kind, target), cancellationToken) is { } running)
        {
            throw new JobConflictException(running);
        }

        try
        {
            executor.Enqueue(job.Id);
        }
        catch (Exception e)
        {
            await store.FinishAsync(job.Id, JobState.Failed, null, new JobError("internalError", $"The job could not be queued: {e.Message}"), null, CancellationToken.None);
            throw;
        }

        return job;
    }

    /// <summary>The job, once it is final or <paramref name="wait"/> has passed; null when there is no such job.</summary>
    public async Task<Job?> WaitAsync(string jobId, TimeSpan wait, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + wait;
        while (true)
        {
            var change = signals.NextChange(jobId);
            var job = await store.FindAsync(jobId, cancellationToken);
            var left = deadline - time.GetUtcNow();
            if (job is null || job.IsFinished || left <= TimeSpan.Zero)
            {
                return job;
            }

            // Re-read at least every second: a change made by another process (a second service on the same data dir) has no signal.
            await Task.WhenAny(change, Task.Delay(left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1), time, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>
    /// Cancels a queued job at once, or a running one by killing its command's process tree; answers once the job is
    /// final or <paramref name="wait"/> has passed. A finished job cannot be cancelled (<see cref="JobProblems.Finished"/>, 409).
    /// </summary>
    public async Task<Job?> CancelAsync(string jobId, TimeSpan wait, CancellationToken cancellationToken)
    {
        var job = await store.FindAsync(jobId, cancellationToken);
        if (job is null || job.State == JobState.Cancelled)
        {
            return job;
        }

        if (job.IsFinished)
        {
            throw JobProblems.Finished.With(
                $"Job {jobId} has already {JobStore.Name(job.State)}; only a queued or running job can be cancelled.");
        }

        if (await store.RequestCancelAsync(jobId, cancellationToken) == JobState.Running)
        {
            cancellations.Cancel(jobId);
        }

        return await WaitAsync(jobId, wait, cancellationToken);
    }

    /// <summary>
    /// One apt/dpkg at a time on the host (host installs, re-syncs), one job per container, and no container job
    /// while a re-sync (which reinstalls in every attached container) is queued or running.
    /// </summary>
    private static JobConflict ConflictsOf(JobKind kind, string target) => kind switch
    {
        JobKind.HostDriverInstall => new("kind IN ('hostDriverInstall', 'driverResync')", target),
        JobKind.DriverResync => new("kind IN ('hostDriverInstall', 'driverResync', 'guestDriverInstall', 'guestVerify')", target),
        _ => new("(kind IN ('guestDriverInstall', 'guestVerify') AND target = $target) OR kind = 'driverResync'", target),
    };
}

/// <summary>A job that conflicts with the requested one is queued or running.</summary>
public sealed class JobConflictException(Job running)
    : Exception($"Job {running.Id} ({JobStore.Name(running.Kind)} on {running.Target}) is {JobStore.Name(running.State)}.")
{
    public Job Running { get; } = running;
}
