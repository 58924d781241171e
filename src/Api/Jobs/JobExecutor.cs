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

/// <summary>At start, jobs that a previous process left <c>running</c> end as <c>interrupted</c>.</summary>
internal sealed partial class JobRecovery(JobStore store, JobCancellations cancellations, ILogger<JobRecovery> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var jobId in await store.InterruptOrphansAsync(cancellations.Instance, null, cancellationToken))
        {
            LogInterrupted(logger, jobId);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} was running when the service stopped; it is marked failed (interrupted)")]
    private static partial void LogInterrupted(ILogger logger, string jobId);
}
