using GpuLxc.Api.Jobs.Hosting;
using Hangfire;
using Hangfire.States;

namespace GpuLxc.Api.Jobs;

/// <summary>Hands a created job to the executor. The job layer's one seam to Hangfire.</summary>
public interface IJobExecutor
{
    void Enqueue(string jobId);
}

/// <summary>
/// Enqueues <see cref="JobRunner.RunAsync"/> on this node's queue: driver jobs work on this host and its containers,
/// so they must run here, whichever node of a cluster shares the storage.
/// </summary>
internal sealed class HangfireJobExecutor(IBackgroundJobClient client, JobHostingOptions options) : IJobExecutor
{
    public void Enqueue(string jobId) =>
        client.Create<JobRunner>(runner => runner.RunAsync(jobId, CancellationToken.None), new EnqueuedState(options.LocalQueue));
}

/// <summary>
/// At start, settles the jobs a previous process of this service left behind, at once rather than after Hangfire's
/// invisibility timeout (5 minutes, during which every new job on the same target would answer 409):
/// <list type="bullet">
/// <item>a job left <c>running</c> ends as <c>interrupted</c> (its host command was ended by
/// <see cref="HostAccess.OrphanedCommandReaper"/>, which starts first);</item>
/// <item>a job left <c>queued</c> never started a step, so it is handed to the executor again and runs as asked. If
/// Hangfire also delivers the old copy later, that delivery finds the job claimed or final and does nothing
/// (<see cref="JobRunner"/> runs a job only from <c>queued</c>, claimed atomically).</item>
/// </list>
/// The job table lives in this node's own database, so every job in it is this node's.
/// </summary>
internal sealed partial class JobRecovery(JobStore store, JobCancellations cancellations, IJobExecutor executor, ILogger<JobRecovery> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var jobId in await store.InterruptOrphansAsync(cancellations.Instance, null, cancellationToken))
        {
            LogInterrupted(logger, jobId);
        }

        foreach (var job in await store.ListAsync(JobState.Queued, null, null, 10_000, cancellationToken))
        {
            executor.Enqueue(job.Id);
            LogRequeued(logger, job.Id);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} was running when the service stopped; it is marked failed (interrupted)")]
    private static partial void LogInterrupted(ILogger logger, string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} was queued when the service stopped; it is queued again")]
    private static partial void LogRequeued(ILogger logger, string jobId);
}
