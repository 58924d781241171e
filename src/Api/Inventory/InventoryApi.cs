using FluentValidation;
using GpuLxc.Api.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Usage;
using Microsoft.AspNetCore.Mvc;

namespace GpuLxc.Api.Inventory;

/// <summary><c>/gpus</c>: the host's NVIDIA GPUs, and the DRM nodes of the others.</summary>
public static class InventoryApi
{
    public static RouteGroupBuilder MapInventory(this RouteGroupBuilder api)
    {
        var gpus = api.MapGroup("/gpus").WithTags("GPUs");
        gpus.MapGet("/", ListGpusAsync).WithName("ListGpus").Problems(RequestProblems.Malformed);
        gpus.MapGet("/{gpuId}", GetGpuAsync).WithName("GetGpu").WithValidation<GpuRoute>().Problems(InventoryProblems.GpuNotFound);
        gpus.MapGet("/{gpuId}/processes", ListGpuProcessesAsync).WithName("ListGpuProcesses").WithValidation<GpuRoute>().Problems(InventoryProblems.GpuNotFound);
        return api;
    }

    [EndpointSummary("The host's GPUs")]
    [EndpointDescription("Every NVIDIA display or 3D controller: identity, bound kernel driver, device node, DRM nodes, NVENC support, " +
                         "limit and live encoder counters; and under `otherGpus` every other vendor's (an Intel or AMD iGPU) with its " +
                         "vendor, kernel driver and DRM nodes (card and render, each with its /dev/dri/by-path link). " +
                         "The topology is cached for 10 s; `refresh=true` rereads it.")]
    public static async Task<Ok<GpuList>> ListGpusAsync(GpuInventory inventory, bool? refresh, CancellationToken cancellationToken) =>
        TypedResults.Ok(await inventory.ListAsync(refresh == true, cancellationToken));

    [EndpointSummary("One GPU, by UUID, PCI address or index")]
    [EndpointDescription("NVIDIA GPUs only: another vendor's GPU (by PCI address) answers 404 saying so; GET /api/v1/gpus lists it under `otherGpus`.")]
    public static async Task<Ok<Gpu>> GetGpuAsync([AsParameters] GpuRoute route, GpuInventory inventory, CancellationToken cancellationToken) =>
        await inventory.FindAsync(route.GpuId, route.Refresh == true, cancellationToken) is { } gpu
            ? TypedResults.Ok(gpu)
            : throw await NotFoundAsync(route, inventory, cancellationToken);

    [EndpointSummary("Who uses one GPU: its processes, their containers and the GPU's totals")]
    [EndpointDescription("From one NVML sweep (kept 0.5 s, shared with the NVENC guard and /metrics): every process with a context " +
                         "on the GPU, its memory, its SM / encoder / decoder share where the driver gives per-process figures, its " +
                         "encoder and FBC sessions, and its owner from /proc/<pid>/cgroup: a container, the host, `exited` or `unknown`.")]
    public static async Task<Ok<GpuProcesses>> ListGpuProcessesAsync(
        [AsParameters] GpuRoute route, GpuInventory inventory, GpuUsageReader usage, CancellationToken cancellationToken)
    {
        var gpu = GpuInventory.Match(await inventory.TopologyGpusAsync(route.Refresh == true, cancellationToken), route.GpuId)
                  ?? throw await NotFoundAsync(route, inventory, cancellationToken);
        var reading = await usage.ReadAsync(cancellationToken);
        return TypedResults.Ok(reading.Gpus.FirstOrDefault(g => g.PciAddress == gpu.PciAddress)
                               ?? new GpuProcesses(gpu.Index, gpu.Uuid, gpu.PciAddress, reading.SampledAt, NvmlTotals.Unknown, [],
                                   [.. reading.Notes, "NVML does not report this GPU."]));
    }

    /// <summary>404 for a GPU id no NVIDIA GPU has; for another vendor's GPU it says which, and what GpuLxc does with it.</summary>
    private static async Task<Exception> NotFoundAsync(GpuRoute route, GpuInventory inventory, CancellationToken cancellationToken)
    {
        var address = PciAddress.Normalize(route.GpuId);
        var other = (await inventory.OtherGpusAsync(refresh: false, cancellationToken)).FirstOrDefault(g => g.PciAddress == address);
        return other is null
            ? InventoryProblems.GpuNotFound.With($"No NVIDIA GPU has the UUID, PCI address or index '{route.GpuId}'. GET /api/v1/gpus lists them.")
            : InventoryProblems.GpuNotFound.With(
                $"{other.PciAddress} is an {other.Vendor} GPU (driver {other.KernelDriver}), not an NVIDIA one: it has no NVML index, processes or NVENC. " +
                "GET /api/v1/gpus lists it under otherGpus with its DRM nodes.",
                $"Pass its card and render nodes to a container with \"drm\": [\"{other.PciAddress}\"] in PUT /api/v1/containers/{{id}}/gpu.");
    }

    public static IServiceCollection AddInventory(this IServiceCollection services)
    {
        services.AddSingleton<PciGpuScanner>();
        services.AddSingleton<VmPassthroughReader>();
        services.AddSingleton<DeviceNodeScanner>();
        services.AddSingleton<DrmNodeScanner>();
        services.AddSingleton<BootNodeSourceReader>();
        services.AddSingleton<NvidiaSmiQuery>();
        services.AddSingleton<GpuInventory>();
        services.AddSingleton<HostDriverReader>();
        services.AddSingleton<LoadedDriver>();
        services.AddSingleton<HostUserspaceReader>();
        services.AddSingleton<IValidator<GpuRoute>, GpuRouteValidator>();
        return services;
    }

    /// <param name="GpuId">A UUID (<c>GPU-…</c>), a PCI address (<c>0000:01:00.0</c> or <c>01:00.0</c>) or an index.</param>
    /// <param name="Refresh">Reread the topology instead of using the cached one.</param>
    public sealed record GpuRoute([FromRoute(Name = "gpuId")] string GpuId, [FromQuery(Name = "refresh")] bool? Refresh);

    private sealed class GpuRouteValidator : AbstractValidator<GpuRoute>
    {
        public GpuRouteValidator() =>
            RuleFor(r => r.GpuId).Must(GpuIds.IsWellFormed).WithMessage($"gpuId must be {GpuIds.Rule}.");
    }
}
