using FluentValidation;
using GpuLxc.Api.Attachments;
using GpuLxc.Api.Auth;
using GpuLxc.Api.Drivers;
using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.Jobs;
using GpuLxc.Api.Usage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace GpuLxc.Api.Containers;

/// <summary><c>/containers</c>: the host's containers, each one's GPU attachment, and the jobs that run inside one (its userspace driver, the GPU check).</summary>
public static class ContainersApi
{
    /// <summary>What finding a container by its id can answer.</summary>
    private static readonly ApiProblem[] Lookup = [ContainerProblems.InvalidId, ContainerProblems.NoBackend, ContainerProblems.NotFound];

    /// <summary>What an edit of its config can answer besides (design §4): the flock, If-Match, a Proxmox lock, a failed restart.</summary>
    private static readonly ApiProblem[] Edit =
        [.. Lookup, AttachmentProblems.ConfigLocked, AttachmentProblems.ConfigChanged, ContainerProblems.Locked, ContainerProblems.ManagerFailed];

    /// <summary>What a job inside a container can be refused with, before it starts.</summary>
    private static readonly ApiProblem[] GuestJob = [.. Lookup, .. DriverProblems.GuestPreconditions, JobProblems.Conflict];

    public static RouteGroupBuilder MapContainers(this RouteGroupBuilder api)
    {
        var containers = api.MapGroup("/containers").WithTags("Containers");
        containers.MapGet("/", ListContainersAsync).WithName("ListContainers").Problems(ContainerProblems.NoBackend);
        containers.MapGet("/{containerId}", GetContainerAsync).WithName("GetContainer").Problems(Lookup);
        containers.MapGet("/{containerId}/gpu", GetAttachmentAsync).WithName("GetAttachment").Problems([.. Lookup, AttachmentProblems.NotAttached]);
        containers.MapPut("/{containerId}/gpu", AttachGpuAsync).WithName("AttachGpu")
            .WithValidation<AttachRequest>().Problems([.. Edit, AttachmentProblems.CannotAttach, AttachmentProblems.NodesUnusableInside]);
        containers.MapDelete("/{containerId}/gpu", DetachGpuAsync).WithName("DetachGpu").Problems(Edit);
        containers.MapGet("/{containerId}/gpu/usage", GetContainerGpuUsageAsync).WithName("GetContainerGpuUsage").Problems(Lookup);
        containers.MapPost("/{containerId}/gpu/verify", VerifyGpuAsync).WithName("VerifyContainerGpu").Problems(GuestJob);
        containers.MapGet("/{containerId}/driver", GetContainerDriverAsync).WithName("GetContainerDriver").Problems(Lookup);
        containers.MapPost("/{containerId}/driver/install", InstallContainerDriverAsync).WithName("InstallContainerDriver")
            .WithValidation<GuestDriverInstallRequest>()
            .Problems([.. GuestJob, DriverProblems.UnknownDistribution, DriverProblems.MuslDistribution, DriverProblems.AptUnsupported, DriverProblems.HostUserspace]);
        return api;
    }

    [EndpointSummary("The host's containers")]
    [EndpointDescription("Every container with its status, privilege, lock and GPU attachment (with drift).")]
    public static async Task<Ok<IReadOnlyList<Container>>> ListContainersAsync(ContainerDirectory service, CancellationToken cancellationToken) =>
        TypedResults.Ok(await service.ListContainersAsync(cancellationToken));

    [EndpointSummary("One container")]
    public static async Task<Ok<Container>> GetContainerAsync(string containerId, ContainerDirectory service, CancellationToken cancellationToken) =>
        TypedResults.Ok(await service.GetContainerAsync(containerId, cancellationToken));

    [EndpointSummary("A container's GPU attachment")]
    [EndpointDescription("The lines GpuLxc manages in the container's config, whether each is there, and drift. The ETag is the SHA-1 of the config.")]
    public static async Task<Ok<Attachment>> GetAttachmentAsync(string containerId, AttachmentService service, HttpResponse response, CancellationToken cancellationToken)
    {
        var (attachment, etag) = await service.GetAttachmentAsync(containerId, cancellationToken);
        response.Headers.ETag = etag;
        return TypedResults.Ok(attachment);
    }

    [EndpointSummary("What a container uses of the GPUs now")]
    [EndpointDescription("Memory in bytes, SM / encoder / decoder share in percent and encoder / FBC sessions of the container's " +
                         "processes, per GPU and summed, with the time of the NVML sweep they come from. Processes are placed by their " +
                         "/proc/<pid>/cgroup; a container with no process on a GPU uses 0 bytes.")]
    public static async Task<Ok<ContainerGpuUsage>> GetContainerGpuUsageAsync(
        string containerId, ContainerDirectory directory, GpuUsageReader usage, CancellationToken cancellationToken)
    {
        await directory.ReadConfigAsync(directory.BackendFor(containerId), containerId, cancellationToken);
        return TypedResults.Ok((await usage.ReadAsync(cancellationToken)).Of(containerId));
    }

    [EndpointSummary("Attach GPUs to a container")]
    [EndpointDescription("Plans the config lines from the host's device nodes (majors read now) and writes them under Proxmox's lock, " +
                         "atomically, with a backup. Idempotent: the same request again changes nothing and says so. `dryRun=true` returns " +
                         "the plan and a diff without writing; `restart=true` restarts a running container. Honours If-Match.")]
    public static async Task<Ok<AttachmentChange>> AttachGpuAsync(
        string containerId, AttachRequest request, [AsParameters] EditOptions options, AttachmentService service, HttpResponse response, CancellationToken cancellationToken)
    {
        var (change, etag) = await service.AttachAsync(containerId, request, options.ToEdit(), cancellationToken);
        response.Headers.ETag = etag;
        return TypedResults.Ok(change);
    }

    [EndpointSummary("Detach the GPUs from a container")]
    [EndpointDescription("Removes exactly the lines GpuLxc added, nothing else; lines that were in the config before are left. " +
                         "Idempotent: with no attachment it changes nothing. `dryRun` and `restart` as for PUT; honours If-Match.")]
    public static async Task<Ok<AttachmentChange>> DetachGpuAsync(
        string containerId, [AsParameters] EditOptions options, AttachmentService service, HttpResponse response, CancellationToken cancellationToken)
    {
        var (change, etag) = await service.DetachAsync(containerId, options.ToEdit(), cancellationToken);
        response.Headers.ETag = etag;
        return TypedResults.Ok(change);
    }

    [EndpointSummary("Check from inside a container that the GPU is usable (a job)")]
    [EndpointDescription("The attached device nodes are character devices inside, and nvidia-smi works and reports the host's version. " +
                         $"Preconditions as for a driver install, else 409. {DriverServices.JobAccepted} {DriverServices.JobSerialised}")]
    public static async Task<Accepted<Job>> VerifyGpuAsync(string containerId, [AsParameters] DriverServices drivers, CancellationToken cancellationToken)
    {
        await drivers.Guests.PreflightAsync(containerId, cancellationToken);
        return await drivers.StartAsync<GuestVerifyWork, GuestVerifyRequest>(containerId, new GuestVerifyRequest(), 1, cancellationToken);
    }

    [EndpointSummary("A container's userspace driver against the host's module")]
    [EndpointDescription("Read from inside the running container (its libnvidia-ml version); `match` is true only for the exact host version.")]
    public static async Task<Ok<ContainerDriver>> GetContainerDriverAsync(string containerId, GuestDrivers guests, CancellationToken cancellationToken) =>
        TypedResults.Ok(await guests.ReadAsync(containerId, cancellationToken));

    [EndpointSummary("Install exactly the host's userspace driver in a container (a job)")]
    [EndpointDescription("Preconditions, else 409 with the fix: the container runs, GpuLxc attached a GPU to it, the host driver is loaded, " +
                         "and it is a glibc distribution (Alpine is refused). The version is the host's loaded module's, exactly: apt installs " +
                         "packages of that upstream version (never a branch match; failing, the job names the versions found) and holds them; " +
                         "or the host version's .run installer is copied in and run with --no-kernel-modules --silent. Then nvidia-smi inside " +
                         "must report the host's version. With profile docker (Debian and Ubuntu containers; allowed with userspace host, whose " +
                         "install steps are skipped) it then sets the container features Docker needs on Proxmox (features: nesting=1, and keyctl=1 " +
                         "when unprivileged, in the main section only; a plain LXC config is not edited, the step names the line to add), checks that " +
                         "Docker runs inside (GpuLxc does not install it), installs NVIDIA's container toolkit from apt at " + DockerProfile.ToolkitFloor +
                         " or newer (the CVE-2025-23266 fix), sets no-cgroups = true, registers the nvidia runtime with Docker, generates " +
                         "/etc/cdi/nvidia.yaml where Docker has CDI (25 and later), and restarts Docker only when its config changed. New features " +
                         "apply from the container's next start: the result says restartRequired, and restart: true restarts it. " +
                         $"{DriverServices.JobAccepted} {DriverServices.JobSerialised}")]
    public static async Task<Accepted<Job>> InstallContainerDriverAsync(
        string containerId, GuestDriverInstallRequest request, [AsParameters] DriverServices drivers, CancellationToken cancellationToken)
    {
        var docker = request.Profile == GuestInstallProfile.Docker;
        var target = await drivers.Guests.CheckAsync(containerId, cancellationToken, hostUserspaceAllowed: docker);
        if ((request.Method == GuestInstallMethod.Apt || docker) && target.Family is not (OsFamily.Debian or OsFamily.Ubuntu))
        {
            throw DriverProblems.AptUnsupported.With(
                $"Container {containerId} runs {target.Os.PrettyName ?? target.Os.Id}; NVIDIA's apt packages{(docker ? ", the driver's and the container toolkit's," : "")} are for Debian and Ubuntu.",
                docker ? "Use a Debian or Ubuntu container for Docker with GPUs." : "Use method runInstaller (or auto).");
        }

        return await drivers.StartAsync<GuestDriverInstallWork, GuestDriverInstallRequest>(containerId, request, 5, cancellationToken);
    }

    public static IServiceCollection AddContainers(this IServiceCollection services)
    {
        services.AddSingleton<ProxmoxBackend>();
        services.AddSingleton<LxcBackend>();
        services.AddSingleton<ContainerBackends>();
        services.AddHostedService<TemporaryFileSweeper>();
        services.AddSingleton<AttachmentStore>();
        services.AddSingleton<AttachmentIntents>();
        services.AddSingleton<AttachmentRecovery>();
        services.AddHostedService(provider => provider.GetRequiredService<AttachmentRecovery>());
        services.AddSingleton<DriftEvents>();
        services.AddSingleton<AttachmentService>();
        services.AddSingleton<GuestGroupReader>();
        services.AddSingleton<ContainerDirectory>();
        services.AddSingleton<ContainerConfigEditor>();
        services.AddSingleton<PlanContextReader>();
        services.AddSingleton<IValidator<AttachRequest>, AttachRequestValidator>();
        return services;
    }

    /// <param name="DryRun">Return the plan and the diff; write nothing.</param>
    /// <param name="Restart">Restart the container when it runs, so that the change takes effect.</param>
    /// <param name="IfMatch">The ETag the config must still have.</param>
    /// <param name="Caller">Who asks (the API key's name goes into the audit trail).</param>
    public sealed record EditOptions([FromQuery(Name = "dryRun")] bool? DryRun, [FromQuery(Name = "restart")] bool? Restart, [FromHeader(Name = "If-Match")] string? IfMatch, Caller Caller)
    {
        public AttachmentService.Edit ToEdit() => new(IfMatch, DryRun == true, Restart == true, Caller.KeyName);
    }
}
