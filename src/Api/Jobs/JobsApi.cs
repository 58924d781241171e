using GpuLxc.Api.Containers;
using GpuLxc.Api.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace GpuLxc.Api.Jobs;

public static partial class JobsApi
{
    public const int MaxWaitSeconds = 300;
    private static readonly TimeSpan CancelWait = TimeSpan.FromSeconds(10);

    public static RouteGroupBuilder MapJobs(this RouteGroupBuilder api)
    {
        var jobs = api.MapGroup("/jobs").WithTags("Jobs");
        jobs.MapGet("/", ListJobsAsync).WithName("ListJobs")
            .WithSummary("Jobs, newest first")
            .WithDescription("Driver installs, verifications and re-syncs, kept after they finish. Filter by `state`, `kind` and `target` (`host` or a container id).")
            .WithMetadata(new ApiDocumentation.QueryValues("state", typeof(JobState)), new ApiDocumentation.QueryValues("kind", typeof(JobKind)))
            .Problems(RequestProblems.Invalid);
        jobs.MapGet("/{jobId}", GetJobAsync).WithName("GetJob")
            .WithSummary("One job: state, steps, progress, error, result")
            .WithDescription($"With `waitSeconds` (up to {MaxWaitSeconds}) the request long-polls: it answers as soon as the job is final " +
                             "(`succeeded`, `failed`, `cancelled`) or when the time is up, whichever comes first.")
            .Problems(RequestProblems.Invalid, JobProblems.NotFound);
        jobs.MapGet("/{jobId}/log", GetJobLogAsync).WithName("GetJobLog")
            .WithSummary("A job's log, readable while the job runs")
            .WithDescription("Every command the job ran (its argv) and every line it printed, numbered from 1. `after=N` returns the " +
                             "lines after line N: poll with the `next` of the previous answer. At most `limit` lines per answer (default 1000).")
            .Problems(RequestProblems.Invalid, JobProblems.NotFound);
        jobs.MapDelete("/{jobId}", CancelJobAsync).WithName("CancelJob")
            .WithSummary("Cancel a job")
            .WithDescription("A queued job is cancelled at once and never starts. A running job's command is killed with its whole " +
                             "process tree and the job ends `cancelled` (a package install stopped half-way may need `dpkg --configure -a`). " +
                             "Answers with the job once it is final, or after 10 s with `cancelRequested: true`. Cancelling a cancelled job " +
                             "changes nothing; a job that succeeded or failed cannot be cancelled (409).")
            .Problems(JobProblems.NotFound, JobProblems.Finished);
        return api;
    }

    public static async Task<Ok<IReadOnlyList<Job>>> ListJobsAsync([AsParameters] JobFilter filter, JobStore store, CancellationToken cancellationToken)
    {
        if (filter.Limit is < 1 or > 1000)
        {
            throw RequestProblems.InvalidField("limit", "limit must be 1 to 1000.");
        }

        if (filter.Target is { } target && !ContainerIds.IsWellFormed(target))
        {
            throw RequestProblems.InvalidField("target", "target must be 'host' or a container id.");
        }

        if (!TryParse<JobState>(filter.State, out var state))
        {
            throw RequestProblems.InvalidField("state", $"state must be one of {string.Join(", ", Enum.GetValues<JobState>().Select(EnumNames.Of))}.");
        }

        if (!TryParse<JobKind>(filter.Kind, out var kind))
        {
            throw RequestProblems.InvalidField("kind", $"kind must be one of {string.Join(", ", Enum.GetValues<JobKind>().Select(EnumNames.Of))}.");
        }

        return TypedResults.Ok(await store.ListAsync(state, kind, filter.Target, filter.Limit ?? 100, cancellationToken));
    }

    public static async Task<Ok<Job>> GetJobAsync(
        string jobId, [FromQuery] int? waitSeconds, JobService jobs, CancellationToken cancellationToken)
    {
        if (waitSeconds is < 0 or > MaxWaitSeconds)
        {
            throw RequestProblems.InvalidField("waitSeconds", $"waitSeconds must be 0 to {MaxWaitSeconds}.");
        }

        var job = IsJobId(jobId) ? await jobs.WaitAsync(jobId, TimeSpan.FromSeconds(waitSeconds ?? 0), cancellationToken) : null;
        return job is null ? throw JobProblems.NoSuchJob(jobId) : TypedResults.Ok(job);
    }

    public static async Task<Ok<JobLog>> GetJobLogAsync(
        string jobId, [FromQuery] int? after, [FromQuery] int? limit, JobStore store, CancellationToken cancellationToken)
    {
        if (after is < 0)
        {
            throw RequestProblems.InvalidField("after", "after must be 0 or more.");
        }

        if (limit is < 1 or > 10_000)
        {
            throw RequestProblems.InvalidField("limit", "limit must be 1 to 10000.");
        }

        // The state is read before the lines: a final state means the lines read after it are all there will be.
        var job = IsJobId(jobId) ? await store.FindAsync(jobId, cancellationToken) : null;
        if (job is null)
        {
            throw JobProblems.NoSuchJob(jobId);
        }

        var lines = await store.ReadLogAsync(jobId, after ?? 0, limit ?? 1000, cancellationToken);
        return TypedResults.Ok(new JobLog(jobId, job.State, lines, lines.Count > 0 ? lines[^1].Line : after ?? 0));
    }

    public static async Task<Ok<Job>> CancelJobAsync(string jobId, JobService jobs, CancellationToken cancellationToken)
    {
        var job = IsJobId(jobId) ? await jobs.CancelAsync(jobId, CancelWait, cancellationToken) : null;
        return job is null ? throw JobProblems.NoSuchJob(jobId) : TypedResults.Ok(job);
    }

    public static IServiceCollection AddJobs(this IServiceCollection services)
    {
        services.AddSingleton<JobSignals>();
        services.AddSingleton<JobCancellations>();
        services.AddSingleton<JobStore>();
        services.AddSingleton<JobService>();
        services.AddSingleton<IJobExecutor, HangfireJobExecutor>();
        services.AddTransient<JobRunner>();
        services.AddHostedService<JobRecovery>();
        return services;
    }

    private static bool IsJobId(string jobId) => IssuedIds.IsWellFormed(jobId);

    /// <summary>Parses a camelCase enum name (as the API writes them); null and empty mean no filter.</summary>
    private static bool TryParse<T>(string? text, out T? value)
        where T : struct, Enum
    {
        value = null;
        if (string.IsNullOrEmpty(text))
        {
            return true;
        }

        value = EnumNames.Parse<T>(text);
        return value is not null;
    }

    /// <param name="State">Only jobs in this state: <c>queued</c>, <c>running</c>, <c>succeeded</c>, <c>failed</c> or <c>cancelled</c>.</param>
    /// <param name="Kind">Only jobs of this kind: <c>hostDriverInstall</c>, <c>guestDriverInstall</c>, <c>guestVerify</c> or <c>driverResync</c>.</param>
    /// <param name="Target">Only jobs on this target: <c>host</c> or a container id.</param>
    /// <param name="Limit">At most this many jobs (1–1000, default 100).</param>
    public sealed record JobFilter(
        [FromQuery(Name = "state")] string? State,
        [FromQuery(Name = "kind")] string? Kind,
        [FromQuery(Name = "target")] string? Target,
        [FromQuery(Name = "limit")] int? Limit);
}
