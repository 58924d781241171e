using System.Security.Claims;
using FluentValidation;
using GpuLxc.Api.Attachments;
using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.Inventory;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace GpuLxc.Api.Containers;

public static class ContainersApi
{
    public static RouteGroupBuilder MapContainers(this RouteGroupBuilder api)
    {
        var containers = api.MapGroup("/containers").WithTags("Containers");
        containers.MapGet("/", ListContainersAsync).WithName("ListContainers")
            .WithSummary("The host's containers")
            .WithDescription("Every container with its status, privilege, lock and GPU attachment (with drift).");
        containers.MapGet("/{containerId}", GetContainerAsync).WithName("GetContainer")
            .WithSummary("One container").Problems(404, 409);
        containers.MapGet("/{containerId}/gpu", GetAttachmentAsync).WithName("GetAttachment")
            .WithSummary("A container's GPU attachment")
            .WithDescription("The lines GpuLxc manages in the container's config, whether each is there, and drift. The ETag is the SHA-1 of the config.")
            .Problems(404, 409);
        containers.MapPut("/{containerId}/gpu", AttachGpuAsync).WithName("AttachGpu")
            .WithSummary("Attach GPUs to a container")
            .WithDescription("Plans the config lines from the host's device nodes (majors read now) and writes them under Proxmox's lock, " +
                             "atomically, with a backup. Idempotent: the same request again changes nothing and says so. `dryRun=true` returns " +
                             "the plan and a diff without writing; `restart=true` restarts a running container. Honours If-Match.")
            .WithValidation<AttachRequest>()
            .Problems(404, 409, 412);
        containers.MapDelete("/{containerId}/gpu", DetachGpuAsync).WithName("DetachGpu")
            .WithSummary("Detach the GPUs from a container")
            .WithDescription("Removes exactly the lines GpuLxc added, nothing else; lines that were in the config before are left. " +
                             "Idempotent: with no attachment it changes nothing. `dryRun` and `restart` as for PUT; honours If-Match.")
            .Problems(404, 409, 412);

        api.MapGet("/attachments", ListAttachmentsAsync).WithTags("Containers").WithName("ListAttachments")
            .WithSummary("Every GPU attachment on the host, with drift")
            .WithDescription("Flags attachments whose lines were edited by hand or whose device majors no longer match the host " +
                             "(after a driver or kernel update), with the fix.");
        return api;
    }

    public static async Task<Results<Ok<IReadOnlyList<Container>>, ProblemHttpResult>> ListContainersAsync(AttachmentService service, CancellationToken cancellationToken) =>
        await Answer(async () => TypedResults.Ok(await service.ListContainersAsync(cancellationToken)));

    public static async Task<Results<Ok<Container>, ProblemHttpResult>> GetContainerAsync(string containerId, AttachmentService service, CancellationToken cancellationToken) =>
        await Answer(async () => TypedResults.Ok(await service.GetContainerAsync(containerId, cancellationToken)));

    public static async Task<Results<Ok<Attachment>, ProblemHttpResult>> GetAttachmentAsync(string containerId, AttachmentService service, HttpResponse response, CancellationToken cancellationToken) =>
        await Answer(async () =>
        {
            var (attachment, etag) = await service.GetAttachmentAsync(containerId, cancellationToken);
            response.Headers.ETag = etag;
            return TypedResults.Ok(attachment);
        });

    public static async Task<Results<Ok<AttachmentChange>, ProblemHttpResult>> AttachGpuAsync(
        string containerId, AttachRequest request, [AsParameters] EditOptions options, AttachmentService service, HttpResponse response, CancellationToken cancellationToken) =>
        await Answer(async () =>
        {
            var (change, etag) = await service.AttachAsync(containerId, request, options.ToEdit(), cancellationToken);
            response.Headers.ETag = etag;
            return TypedResults.Ok(change);
        });

    public static async Task<Results<Ok<AttachmentChange>, ProblemHttpResult>> DetachGpuAsync(
        string containerId, [AsParameters] EditOptions options, AttachmentService service, HttpResponse response, CancellationToken cancellationToken) =>
        await Answer(async () =>
        {
            var (change, etag) = await service.DetachAsync(containerId, options.ToEdit(), cancellationToken);
            response.Headers.ETag = etag;
            return TypedResults.Ok(change);
        });

    public static async Task<Results<Ok<IReadOnlyList<Attachment>>, ProblemHttpResult>> ListAttachmentsAsync(AttachmentService service, CancellationToken cancellationToken) =>
        await Answer(async () => TypedResults.Ok(await service.ListAttachmentsAsync(cancellationToken)));

    public static IServiceCollection AddContainers(this IServiceCollection services)
    {
        services.AddSingleton<ProxmoxBackend>();
        services.AddSingleton<LxcBackend>();
        services.AddSingleton<ContainerBackends>();
        services.AddSingleton<AttachmentStore>();
        services.AddSingleton<AttachmentService>();
        services.AddSingleton<IValidator<AttachRequest>, AttachRequestValidator>();
        return services;
    }

    /// <param name="DryRun">Return the plan and the diff; write nothing.</param>
    /// <param name="Restart">Restart the container when it runs, so that the change takes effect.</param>
    /// <param name="IfMatch">The ETag the config must still have.</param>
    /// <param name="User">Who asks (the API key's name goes into the audit trail).</param>
    public sealed record EditOptions([FromQuery] bool? DryRun, [FromQuery] bool? Restart, [FromHeader(Name = "If-Match")] string? IfMatch, ClaimsPrincipal User)
    {
        public AttachmentService.Edit ToEdit() => new(IfMatch, DryRun == true, Restart == true, User.Identity?.Name);
    }

    private static async Task<Results<Ok<T>, ProblemHttpResult>> Answer<T>(Func<Task<Ok<T>>> action)
    {
        try
        {
            return await action();
        }
        catch (ProblemException e)
        {
            return e.ToResult();
        }
        catch (ContainerBackendException e)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status502BadGateway, title: "The container manager failed.", detail: e.Message);
        }
    }

    private static RouteHandlerBuilder Problems(this RouteHandlerBuilder builder, params int[] statuses)
    {
        foreach (var status in statuses)
        {
            builder.ProducesProblem(status);
        }

        return builder.ProducesValidationProblem();
    }

    private sealed class AttachRequestValidator : AbstractValidator<AttachRequest>
    {
        public AttachRequestValidator()
        {
            RuleFor(r => r.Gpus).Must(gpus => gpus is null || gpus.Count <= 64).WithMessage("At most 64 GPUs.");
            RuleForEach(r => r.Gpus).Must(id => id is not null && InventoryApi.IsWellFormedGpuId(id))
                .WithMessage($"Each GPU must be {InventoryApi.GpuIdRule}.");
            RuleFor(r => r.Mode).IsInEnum();
        }
    }
}
