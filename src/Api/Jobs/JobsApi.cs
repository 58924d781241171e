using System.Globalization;
using System.Text.RegularExpressions;
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
            .ProducesValidationProblem();
        jobs.MapGet("/{jobId}", GetJobAsync).WithName("GetJob")
            .WithSummary("One job: state, steps, progress, error, result")
            .WithDescription($"With `waitSeconds` (up to {MaxWaitSeconds}) the request long-polls: it answers as soon as the job is final " +
                             "(`succeeded`, `failed`, `cancelled`) or when the time is up, whichever comes first.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesValidationProblem();
        jobs.MapGet("/{jobId}/log", GetJobLogAsync).WithName("GetJobLog")
            .WithSummary("A job's log, readable while the job runs")
            .WithDescription("Every command the job ran (its argv) and every line it printed, numbered from 1. `after=N` returns the " +
                             "lines after line N: poll with the `next` of the previous answer. At most `limit` lines per answer (default 1000).")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesValidationProblem();
        jobs.MapDelete("/{jobId}", CancelJobAsync).WithName("CancelJob")
            .WithSummary("Cancel a job")
            .WithDescription("A queued job is cancelled at once and never starts. A running job's command is killed with its whole " +
                             "process tree and the job ends `cancelled` (a package install stopped half-way may need `dpkg --configure -a`). " +
                             "Answers with the job once it is final, or after 10 s with `cancelRequested: true`. Cancelling a cancelled job " +
                             "changes nothing; a job that succeeded or failed cannot be cancelled (409).")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return api;
    }

    public static async Task<Results<Ok<IReadOnlyList<Job>>, ValidationProblem>> ListJobsAsync([AsParameters] JobFilter filter, JobStore store, CancellationToken cancellationToken)
    {
        if (filter.Limit is < 1 or > 1000)
        {
            return Invalid("limit", "limit must be 1 to 1000.");
        }

        if (filter.Target is { } target && !TargetPattern().IsMatch(target))
        {
            return Invalid("target", "target must be 'host' or a container id.");
        }

        if (!TryParse<JobState>(filter.State, out var state))
        {
            return Invalid("state", $"state must be one of {string.Join(", ", Enum.GetValues<JobState>().Select(EnumNames.Of))}.");
        }

        if (!TryParse<JobKind>(filter.Kind, out var kind))
        {
            return Invalid("kind", $"kind must be one of {string.Join(", ", Enum.GetValues<JobKind>().Select(EnumNames.Of))}.");
        }

        return TypedResults.Ok(await store.ListAsync(state, kind, filter.Target, filter.Limit ?? 100, cancellationToken));
    }

    public static async Task<Results<Ok<Job>, NotFound<ProblemDetails>, ValidationProblem>> GetJobAsync(
        string jobId, [FromQuery] int? waitSeconds, JobService jobs, CancellationToken cancellationToken)
    {
        if (waitSeconds is < 0 or > MaxWaitSeconds)
        {
            return Invalid("waitSeconds", $"waitSeconds must be 0 to {MaxWaitSeconds}.");
        }

        var job = IsJobId(jobId) ? await jobs.WaitAsync(jobId, TimeSpan.FromSeconds(waitSeconds ?? 0), cancellationToken) : null;
        return job is null ? NoSuchJob(jobId) : TypedResults.Ok(job);
    }

    public static async Task<Results<Ok<JobLog>, NotFound<ProblemDetails>, ValidationProblem>> GetJobLogAsync(
        string jobId, [FromQuery] int? after, [FromQuery] int? limit, JobStore store, CancellationToken cancellationToken)
    {
        if (after is < 0)
        {
            return Invalid("after", "after must be 0 or more.");
        }

        if (limit is < 1 or > 10_000)
        {
            return Invalid("limit", "limit must be 1 to 10000.");
        }

        // The state is read before the lines: a final state means the lines read after it are all there will be.
        var job = IsJobId(jobId) ? await store.FindAsync(jobId, cancellationToken) : null;
        if (job is null)
        {
            return NoSuchJob(jobId);
        }

        var lines = await store.ReadLogAsync(jobId, after ?? 0, limit ?? 1000, cancellationToken);
        return TypedResults.Ok(new JobLog(jobId, job.State, lines, lines.Count > 0 ? lines[^1].Line : after ?? 0));
    }

    public static async Task<Results<Ok<Job>, NotFound<ProblemDetails>, ProblemHttpResult>> CancelJobAsync(string jobId, JobService jobs, CancellationToken cancellationToken)
    {
        try
        {
            var job = IsJobId(jobId) ? await jobs.CancelAsync(jobId, CancelWait, cancellationToken) : null;
            return job is null ? NoSuchJob(jobId) : TypedResults.Ok(job);
        }
        catch (ProblemException e)
        {
            return e.ToResult();
        }
    }

    /// <summary>202 Accepted for a POST that started a job: <c>Location</c> to poll, <c>Retry-After</c>, the job as the body.</summary>
    public static Accepted<Job> Accepted(Job job, HttpResponse response, int retryAfterSeconds)
    {
        response.Headers.RetryAfter = retryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        return TypedResults.Accepted($"/api/v1/jobs/{job.Id}", job);
    }

    /// <summary>409 naming the queued or running job that the request conflicts with, with its location.</summary>
    public static ProblemHttpResult Conflict(JobConflictException e, HttpResponse response)
    {
        response.Headers.Location = $"/api/v1/jobs/{e.Running.Id}";
        return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Another job is working on this target.",
            detail: e.Message + " Work on one target is serialised: one package run at a time on the host, one job per container, none during a re-sync.",
            type: "urn:gpulxc:problem:job-conflict",
            extensions: new Dictionary<string, object?>
            {
                ["jobId"] = e.Running.Id,
                ["fix"] = $"Wait for it (GET /api/v1/jobs/{e.Running.Id}?waitSeconds=60) or cancel it (DELETE), then retry.",
            });
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

    private static bool IsJobId(string jobId) => JobIdPattern().IsMatch(jobId);

    private static NotFound<ProblemDetails> NoSuchJob(string jobId) => TypedResults.NotFound(new ProblemDetails
    {
        Status = StatusCodes.Status404NotFound,
        Title = "No such job.",
        Detail = $"There is no job '{jobId}'. GET /api/v1/jobs lists them.",
    });

    private static ValidationProblem Invalid(string field, string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] }, title: "The request is not valid.");

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

    [GeneratedRegex("^[0-9a-f]{32}$")]
    private static partial Regex JobIdPattern();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    private static partial Regex TargetPattern();
}
