using GpuLxc.Api.Infrastructure;

namespace GpuLxc.Api.Jobs;

/// <summary>Creates, waits for and cancels jobs.</summary>
public sealed class JobService(JobStore store, IJobExecutor executor, IEnumerable<IJobWork> works, JobCancellations cancellations, JobSignals signals, TimeProvider time)
{
    public const string HostTarget = "host";

    /// <summary>
    /// Creates a queued job of <typeparamref name="TWork"/>'s kind, started with <paramref name="request"/> (stored as
    /// its parameters, read back by the work), and hands it to the executor. Work on one target is serialised by
    /// refusing: while a job its kind excludes (<see cref="JobKinds.Excludes"/>) is queued or running,
    /// <see cref="JobConflictException"/> names that job.
    /// </summary>
    public async Task<Job> StartAsync<TWork, TRequest>(string target, TRequest request, string? requestedBy, CancellationToken cancellationToken)
        where TWork : JobWork<TRequest>
        where TRequest : class
    {
        var work = works.OfType<TWork>().Single();
        var parameters = JobParameters.Store(request);
        var job = new Job(
            Guid.CreateVersion7(time.GetUtcNow()).ToString("N"),
            work.Kind,
            target,
            JobState.Queued,
            JobParameters.View(parameters),
            requestedBy,
            time.GetUtcNow(),
            null,
            null,
            work.PlanSteps(request).Select(s => new JobStep(s.Name, s.Title, JobStepState.Pending, null, null, null)).ToList(),
            0,
            false,
            null,
            null,
            0)
        {
            StoredParameters = parameters,
        };
        if (await store.CreateAsync(job, cancellationToken) is { } running)
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
                $"Job {jobId} has already {EnumNames.Of(job.State)}; only a queued or running job can be cancelled.");
        }

        if (await store.RequestCancelAsync(jobId, cancellationToken) == JobState.Running)
        {
            cancellations.Cancel(jobId);
        }

        return await WaitAsync(jobId, wait, cancellationToken);
    }
}

/// <summary>A job that conflicts with the requested one is queued or running.</summary>
public sealed class JobConflictException(Job running)
    : Exception($"Job {running.Id} ({EnumNames.Of(running.Kind)} on {running.Target}) is {EnumNames.Of(running.State)}.")
{
    public Job Running { get; } = running;
}
