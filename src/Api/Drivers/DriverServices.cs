using FluentValidation;
using GpuLxc.Api.Auth;
using GpuLxc.Api.Jobs;
using Microsoft.AspNetCore.Http.HttpResults;

namespace GpuLxc.Api.Drivers;

/// <summary>
/// What a handler that starts a driver job needs, bound with <c>[AsParameters]</c> (eShop's <c>OrderServices</c>):
/// the containers' driver checks, the jobs, who asks (the job's <c>requestedBy</c>) and the response (its <c>Retry-After</c>).
/// </summary>
public sealed record DriverServices(GuestDrivers Guests, JobService Jobs, Caller Caller, HttpResponse Response)
{
    /// <summary>How every driver job route answers; part of their descriptions.</summary>
    public const string JobAccepted = "202 with the job, `Location: /api/v1/jobs/{jobId}` and `Retry-After`: poll the job (or long-poll with `waitSeconds`).";

    /// <summary>How work on one target is serialised; part of the driver job routes' descriptions.</summary>
    public const string JobSerialised =
        "Work on one target is serialised by refusing, never by queueing behind: while a conflicting job is queued or running " +
        "(one package run at a time on the host: host install and re-sync; one job per container; no container job during a re-sync) " +
        "the request is answered 409 with that job's id in `jobId` and its URL in `Location`. Jobs are never retried automatically.";

    /// <summary>Starts the job and answers 202 with it, <c>Location</c> to poll and <c>Retry-After</c>.</summary>
    /// <exception cref="JobConflictException">A job it conflicts with is queued or running (answered 409, <see cref="JobProblems.Conflict"/>).</exception>
    /// <typeparam name="TWork">The work that runs the job: its kind, its steps.</typeparam>
    /// <typeparam name="TRequest">The request record the work reads back as the job's parameters.</typeparam>
    public async Task<Accepted<Job>> StartAsync<TWork, TRequest>(string target, TRequest request, int retryAfterSeconds, CancellationToken cancellationToken)
        where TWork : JobWork<TRequest>
        where TRequest : class
    {
        var job = await Jobs.StartAsync<TWork, TRequest>(target, request, Caller.KeyName, cancellationToken);
        Response.Headers.RetryAfter = retryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return TypedResults.Accepted($"/api/v1/jobs/{job.Id}", job);
    }
}

public static class DriverRegistration
{
    public static IServiceCollection AddDrivers(this IServiceCollection services)
    {
        services.AddSingleton<GuestDrivers>();
        services.AddSingleton<ToolkitDiagnostics>();
        services.AddSingleton<GuestInstaller>();
        services.AddSingleton<DockerProfileSetup>();
        services.AddSingleton<IJobWork, HostDriverInstallWork>();
        services.AddSingleton<IJobWork, GuestDriverInstallWork>();
        services.AddSingleton<IJobWork, GuestVerifyWork>();
        services.AddSingleton<IJobWork, DriverResyncWork>();
        services.AddSingleton<IValidator<HostDriverInstallRequest>, HostDriverInstallRequestValidator>();
        services.AddSingleton<IValidator<GuestDriverInstallRequest>, GuestDriverInstallRequestValidator>();
        services.AddSingleton<IValidator<DriverResyncRequest>, DriverResyncRequestValidator>();
        return services;
    }
}
