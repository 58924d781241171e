using System.Text.Json;

namespace GpuLxc.Api.Jobs;

/// <summary>The work of one job kind as <see cref="JobRunner"/> runs it, whatever its request type.</summary>
public interface IJobWork
{
    JobKind Kind { get; }

    /// <summary>Reads the job's request back and runs the steps; throws <see cref="JobFailedException"/> to fail the job with a clear error.</summary>
    Task<JobResult?> RunAsync(JobContext context);
}

/// <summary>
/// The work of one job kind, started with its request record <typeparamref name="TRequest"/>
/// (<see cref="JobService.StartAsync{TWork, TRequest}"/>): its steps, planned when the job is created, and how they run.
/// </summary>
public abstract class JobWork<TRequest> : IJobWork
    where TRequest : class
{
    public abstract JobKind Kind { get; }

    /// <summary>The steps (name, title) shown from the moment the job is accepted.</summary>
    public abstract IReadOnlyList<(string Name, string Title)> PlanSteps(TRequest request);

    /// <summary>Runs the steps; throws <see cref="JobFailedException"/> to fail the job with a clear error.</summary>
    public abstract Task<JobResult?> RunAsync(TRequest request, JobContext context);

    Task<JobResult?> IJobWork.RunAsync(JobContext context)
    {
        TRequest request;
        try
        {
            request = context.Job.RequestAs<TRequest>();
        }
        catch (JsonException e)
        {
            throw new JobFailedException(new JobError("internalError", $"The job's parameters are not a {typeof(TRequest).Name}: {e.Message}"), e);
        }

        return RunAsync(request, context);
    }
}
