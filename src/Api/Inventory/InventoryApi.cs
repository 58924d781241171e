using System.Text.RegularExpressions;
using FluentValidation;
using GpuLxc.Api.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace GpuLxc.Api.Inventory;

public static partial class InventoryApi
{
    public static RouteGroupBuilder MapInventory(this RouteGroupBuilder api)
    {
        var gpus = api.MapGroup("/gpus").WithTags("GPUs");
        gpus.MapGet("/", ListGpusAsync)
            .WithName("ListGpus")
            .WithSummary("The host's NVIDIA GPUs")
            .WithDescription("Every NVIDIA display or 3D controller: identity, bound kernel driver, device node, NVENC support, " +
                             "limit and live encoder counters. The topology is cached for 10 s; `refresh=true` rereads it.");
        gpus.MapGet("/{gpuId}", GetGpuAsync)
            .WithName("GetGpu")
            .WithSummary("One GPU, by UUID, PCI address or index")
            .WithValidation<GpuRoute>()
            .ProducesProblem(StatusCodes.Status404NotFound);

        api.MapGet("/host/driver", GetHostDriverAsync)
            .WithTags("Host")
            .WithName("GetHostDriver")
            .WithSummary("The host's NVIDIA driver")
            .WithDescription("Loaded vs installed version, flavor, modules, modules-load.d, udev rules, device nodes with their " +
                             "real majors, DKMS, headers, Secure Boot, and whether a reboot is required.");
        return api;
    }

    public static async Task<Ok<GpuList>> ListGpusAsync(GpuInventory inventory, bool? refresh, CancellationToken cancellationToken) =>
        TypedResults.Ok(await inventory.ListAsync(refresh == true, cancellationToken));

    public static async Task<Results<Ok<Gpu>, ProblemHttpResult>> GetGpuAsync([AsParameters] GpuRoute route, GpuInventory inventory, CancellationToken cancellationToken) =>
        await inventory.FindAsync(route.GpuId, route.Refresh == true, cancellationToken) is { } gpu
            ? TypedResults.Ok(gpu)
            : TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such GPU.",
                detail: $"No NVIDIA GPU has the UUID, PCI address or index '{route.GpuId}'. GET /api/v1/gpus lists them.");

    public static async Task<Ok<HostDriver>> GetHostDriverAsync(HostDriverReader reader, CancellationToken cancellationToken) =>
        TypedResults.Ok(await reader.ReadAsync(cancellationToken));

    public static IServiceCollection AddInventory(this IServiceCollection services)
    {
        services.AddSingleton<PciGpuScanner>();
        services.AddSingleton<DeviceNodeScanner>();
        services.AddSingleton<NvidiaSmiQuery>();
        services.AddSingleton<GpuInventory>();
        services.AddSingleton<HostDriverReader>();
        services.AddSingleton<IValidator<GpuRoute>, GpuRouteValidator>();
        return services;
    }

    /// <param name="GpuId">A UUID (<c>GPU-…</c>), a PCI address (<c>0000:01:00.0</c> or <c>01:00.0</c>) or an index.</param>
    /// <param name="Refresh">Reread the topology instead of using the cached one.</param>
    public sealed record GpuRoute([FromRoute] string GpuId, [FromQuery] bool? Refresh);

    public const string GpuIdRule = "a GPU UUID (GPU-xxxxxxxx-…), a PCI address (0000:01:00.0) or an index (0, 1, …)";

    /// <summary>Whether <paramref name="gpuId"/> has the shape of a UUID, a PCI address or an index.</summary>
    public static bool IsWellFormedGpuId(string gpuId) => GpuIdPattern().IsMatch(gpuId) || PciAddress.Normalize(gpuId) is not null;

    [GeneratedRegex(@"^(?:GPU-[0-9A-F]{8}(?:-[0-9A-F]{4}){3}-[0-9A-F]{12}|[0-9]{1,3})$", RegexOptions.IgnoreCase)]
    private static partial Regex GpuIdPattern();

    private sealed class GpuRouteValidator : AbstractValidator<GpuRoute>
    {
        public GpuRouteValidator() =>
            RuleFor(r => r.GpuId).Must(IsWellFormedGpuId).WithMessage($"gpuId must be {GpuIdRule}.");
    }
}
