using System.ComponentModel;
using GpuLxc.Api.Infrastructure;
using Hangfire;

namespace GpuLxc.Api.Jobs;

/// <summary>
/// What Hangfire runs: one GpuLxc job, by id. It runs a job only from <c>queued</c>, so a job that was cancelled
/// before it started never starts, and a delivery of a job that is already final (Hangfire re-delivers a job
/// whose worker died) changes nothing. Never retried: a failed install is a failure to show, not to repeat.
/// </summary>
public sealed partial class JobRunner(
    JobStore store,
    JobCancellations cancellations,
    IEnumerable<IJobWork> works,
    TimeProvider time,
    ILogger<JobRunner> logger)
{
    /// <param name="jobId">The job.</param>
    /// <param name="shutdown">Hangfire's: cancelled when the job server stops.</param>
    [AutomaticRetry(Attempts = 0, OnAttemptsExceeded = AttemptsExceededAction.Fail)]
    [DisplayName("GpuLxc job {0}")]
    public async Task RunAsync(string jobId, CancellationToken shutdown)
    {
        // A delivery of a job that a previous process had claimed: that process is gone.
        if (await store.InterruptOrphansAsync(cancellations.Instance, jobId, CancellationToken.None) is [_])
        {
            LogInterrupted(logger, jobId);
            return;
        }

        using var cancellation = cancellations.Register(jobId, shutdown);
        try
        {
            if (!await store.TryStartAsync(jobId, cancellations.Instance, CancellationToken.None))
            {
                LogNotRun(logger, jobId);
                return;
            }

            var job = (await store.FindAsync(jobId, CancellationToken.None))!;
            await RunClaimedAsync(job, shutdown, cancellation.Token);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Whatever broke (the database, a bug), the job must not stay queued or running: it ends failed, and
            // Hangfire does not retry it.
            LogBroken(logger, e, jobId);
            await store.FinishAsync(jobId, JobState.Failed, null, new JobError("internalError", $"The job runner failed: {e.Message}"), null, CancellationToken.None);
        }
        finally
        {
            cancellations.Remove(jobId);
        }
    }

    private async Task RunClaimedAsync(Job job, CancellationToken shutdown, CancellationToken cancellation)
    {
        var work = works.Single(w => w.Kind == job.Kind);
        JobState state;
        JobError? error = null;
        JobResult? result = null;
        var context = new JobContext(job, store, time, cancellation);
        await using (context)
        {
            try
            {
                LogStarted(logger, job.Id, job.Kind, job.Target);
                result = await work.RunAsync(context);
                state = JobState.Succeeded;
            }
            catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
            {
                state = JobState.Failed;
                error = new JobError("interrupted", "The service stopped while the job ran; its running command was killed.",
                    context.Steps.FirstOrDefault(s => s.State == JobStepState.Cancelled)?.Name,
                    Fix: "Check the job's log, then start the job again: every step is idempotent.");
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
            {
                state = JobState.Cancelled;
                error = new JobError("cancelled", "Cancelled by request; the running command's process tree was killed.",
                    context.Steps.FirstOrDefault(s => s.State == JobStepState.Cancelled)?.Name,
                    Fix: job.Kind.InstallsPackages()
                        ? "A package installation stopped half-way may need `dpkg --configure -a`; starting the job again does the remaining steps."
                        : null);
            }
            catch (JobFailedException e)
            {
                state = JobState.Failed;
                error = e.Error;
                result = e.Result;
            }

            await context.LogAsync($"job {EnumNames.Of(state)}{(error is null ? "" : $": {error.Message}")}");
        }

        await store.FinishAsync(job.Id, state, context.Steps, error, result, CancellationToken.None);
        LogFinished(logger, job.Id, state);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} ({Kind} on {Target}) started")]
    private static partial void LogStarted(ILogger logger, string jobId, JobKind kind, string target);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} finished: {State}")]
    private static partial void LogFinished(ILogger logger, string jobId, JobState state);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} is not queued (cancelled, finished or unknown); not run")]
    private static partial void LogNotRun(ILogger logger, string jobId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId} failed in the runner itself")]
    private static partial void LogBroken(ILogger logger, Exception exception, string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} was running in a process that is gone; marked interrupted, not run again")]
    private static partial void LogInterrupted(ILogger logger, string jobId);
}
