using GpuLxc.Api.Infrastructure;

namespace GpuLxc.Api.Usage;

/// <summary>
/// Registers GPU use per process and container. Its routes sit with their prefixes' files (README, Layout):
/// <c>GET /gpus/{gpuId}/processes</c> in InventoryApi, <c>GET /containers/{containerId}/gpu/usage</c> in ContainersApi.
/// </summary>
public static class UsageRegistration
{
    public static IServiceCollection AddUsage(this IServiceCollection services)
    {
        services.AddSingleton<GpuUsageReader>();
        services.AddEagerSingleton<UsageMetrics>();
        return services;
    }
}
