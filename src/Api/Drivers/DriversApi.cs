using System.Security.Claims;
using FluentValidation;
using GpuLxc.Api.Attachments;
using GpuLxc.Api.Containers;
using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.Jobs;
using Microsoft.AspNetCore.Http.HttpResults;

namespace GpuLxc.Api.Drivers;

public static class DriversApi
{
    private const string Serialised =
        "Work on one target is serialised by refusing, never by queueing behind: while a conflicting job is queued or running " +
        "(one package run at a time on the host: host install and re-sync; one job per container; no container job during a re-sync) " +
        "the request is answered 409 with that job's id in `jobId` and its URL in `Location`. Jobs are never retried automatically.";

    private const string Accepted = "202 with the job, `Location: /api/v1/jobs/{jobId}` and `Retry-After`: poll the job (or long-poll with `waitSeconds`).";

    public static RouteGroupBuilder MapDrivers(this RouteGroupBuilder api)
    {
        var host = api.MapGroup("/host/driver").WithTags("Drivers");
        host.MapPost("/install", InstallHostDriverAsync).WithName("InstallHostDriver")
            .WithSummary("Install the NVIDIA driver on the host (a job)")
            .WithDescription("Steps: preflight (GPUs not on vfio-pci, Secure Boot vs unsigned modules, nouveau, headers available), headers " +
                             "(proxmox-headers on Proxmox VE ≥ 8, pve-headers before, linux-headers elsewhere), the driver (the package nvidia-detect " +
                             "recommends, or `package`, pinned to `version` when given; or NVIDIA's `.run` installer with --dkms --silent), " +
                             "modules-load.d, update-initramfs -u -k all, a udev rule and a boot unit that create the device nodes before " +
                             "containers start, and verification. `result.rebootRequired` says when the new module loads only after a reboot. " +
                             $"{Accepted} {Serialised}")
            .WithValidation<HostDriverInstallRequest>()
            .Produces<Job>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status409Conflict);
        host.MapPost("/resync", ResyncAsync).WithName("ResyncDrivers")
            .WithSummary("Bring every attached container's userspace driver to the host's version (a job)")
            .WithDescription("Compares every attached, running container with the host's loaded module and reinstalls the mismatched ones, " +
                             $"one step each (stopped containers are skipped). 409 when no host driver is loaded. {Accepted} {Serialised}")
            .WithValidation<DriverResyncRequest>()
            .Produces<Job>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status409Conflict);

        var containers = api.MapGroup("/containers/{containerId}").WithTags("Drivers");
        containers.MapGet("/driver", GetContainerDriverAsync).WithName("GetContainerDriver")
            .WithSummary("A container's userspace driver against the host's module")
            .WithDescription("Read from inside the running container (its libnvidia-ml version); `match` is true only for the exact host version.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        containers.MapPost("/driver/install", InstallGuestDriverAsync).WithName("InstallContainerDriver")
            .WithSummary("Install exactly the host's userspace driver in a container (a job)")
            .WithDescription("Preconditions, else 409 with the fix: the container runs, GpuLxc attached a GPU to it, the host driver is loaded, " +
                             "and it is a glibc distribution (Alpine is refused). The version is the host's loaded module's, exactly: apt installs " +
                             "packages of that upstream version (never a branch match; failing, the job names the versions found) and holds them; " +
                             "or the host version's .run installer is copied in and run with --no-kernel-modules --silent. Then nvidia-smi inside " +
                             $"must report the host's version. {Accepted} {Serialised}")
            .WithValidation<GuestDriverInstallRequest>()
            .Produces<Job>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        containers.MapPost("/gpu/verify", VerifyGpuAsync).WithName("VerifyContainerGpu")
            .WithSummary("Check from inside a container that the GPU is usable (a job)")
            .WithDescription("The attached device nodes are character devices inside, and nvidia-smi works and reports the host's version. " +
                             $"Preconditions as for a driver install, else 409. {Accepted} {Serialised}")
            .Produces<Job>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return api;
    }

    public static async Task<Results<Accepted<Job>, ProblemHttpResult>> InstallHostDriverAsync(
        HostDriverInstallRequest request, JobService jobs, ClaimsPrincipal user, HttpResponse response, CancellationToken cancellationToken) =>
        await StartAsync<HostDriverInstallWork, HostDriverInstallRequest>(jobs, JobService.HostTarget, request, user, response, 15, cancellationToken);

    public static async Task<Results<Accepted<Job>, ProblemHttpResult>> ResyncAsync(
        DriverResyncRequest request, GuestDrivers guests, JobService jobs, ClaimsPrincipal user, HttpResponse response, CancellationToken cancellationToken)
    {
        if (await guests.HostVersionAsync(cancellationToken) is null)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "The host driver is not loaded.",
                detail: "No NVIDIA kernel module is loaded on the host, so there is no version for the containers to match.",
                extensions: new Dictionary<string, object?> { ["fix"] = "POST /api/v1/host/driver/install, then reboot the host." });
        }

        return await StartAsync<DriverResyncWork, DriverResyncRequest>(jobs, JobService.HostTarget, request, user, response, 10, cancellationToken);
    }

    public static async Task<Results<Ok<ContainerDriver>, ProblemHttpResult>> GetContainerDriverAsync(string containerId, GuestDrivers guests, CancellationToken cancellationToken)
    {
        try
        {
            return TypedResults.Ok(await guests.ReadAsync(containerId, cancellationToken));
        }
        catch (ProblemException e)
        {
            return e.ToResult();
        }
    }

    public static async Task<Results<Accepted<Job>, ProblemHttpResult>> InstallGuestDriverAsync(
        string containerId, GuestDriverInstallRequest request, GuestDrivers guests, JobService jobs, ClaimsPrincipal user, HttpResponse response, CancellationToken cancellationToken)
    {
        try
        {
            var target = await guests.CheckAsync(containerId, cancellationToken);
            if (request.Method == GuestInstallMethod.Apt && target.Family is not (OsFamily.Debian or OsFamily.Ubuntu))
            {
                throw new ProblemException(StatusCodes.Status409Conflict, "apt cannot install the driver in this container.",
                    $"Container {containerId} runs {target.Os.PrettyName ?? target.Os.Id}; NVIDIA's apt packages are for Debian and Ubuntu.",
                    "Use method runInstaller (or auto).");
            }
        }
        catch (ProblemException e)
        {
            return e.ToResult();
        }

        return await StartAsync<GuestDriverInstallWork, GuestDriverInstallRequest>(jobs, containerId, request, user, response, 5, cancellationToken);
    }

    public static async Task<Results<Accepted<Job>, ProblemHttpResult>> VerifyGpuAsync(
        string containerId, GuestDrivers guests, JobService jobs, ClaimsPrincipal user, HttpResponse response, CancellationToken cancellationToken)
    {
        try
        {
            await guests.PreflightAsync(containerId, cancellationToken);
        }
        catch (ProblemException e)
        {
            return e.ToResult();
        }

        return await StartAsync<GuestVerifyWork, GuestVerifyRequest>(jobs, containerId, new GuestVerifyRequest(), user, response, 1, cancellationToken);
    }

    public static IServiceCollection AddDrivers(this IServiceCollection services)
    {
        services.AddSingleton<GuestDrivers>();
        services.AddSingleton<GuestInstaller>();
        services.AddSingleton<IJobWork, HostDriverInstallWork>();
        services.AddSingleton<IJobWork, GuestDriverInstallWork>();
        services.AddSingleton<IJobWork, GuestVerifyWork>();
        services.AddSingleton<IJobWork, DriverResyncWork>();
        services.AddSingleton<IValidator<HostDriverInstallRequest>, HostDriverInstallRequestValidator>();
        services.AddSingleton<IValidator<GuestDriverInstallRequest>, GuestDriverInstallRequestValidator>();
        services.AddSingleton<IValidator<DriverResyncRequest>, DriverResyncRequestValidator>();
        return services;
    }

    private static async Task<Results<Accepted<Job>, ProblemHttpResult>> StartAsync<TWork, TRequest>(
        JobService jobs, string target, TRequest request, ClaimsPrincipal user, HttpResponse response, int retryAfterSeconds, CancellationToken cancellationToken)
        where TWork : JobWork<TRequest>
        where TRequest : class
    {
        try
        {
            var job = await jobs.StartAsync<TWork, TRequest>(target, request, user.Identity?.Name, cancellationToken);
            return JobsApi.Accepted(job, response, retryAfterSeconds);
        }
        catch (JobConflictException e)
        {
            return JobsApi.Conflict(e, response);
        }
    }
}
