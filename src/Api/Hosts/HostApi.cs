using Microsoft.AspNetCore.Http.HttpResults;

namespace GpuLxc.Api.Hosts;

public static class HostApi
{
    public static RouteGroupBuilder MapHost(this RouteGroupBuilder api)
    {
        var host = api.MapGroup("/host").WithTags("Host");

        host.MapGet("/", GetHostAsync)
            .WithName("GetHost")
            .WithSummary("The host's facts")
            .WithDescription("Hostname, kernel, distribution, cgroup version, container backend and Proxmox version, " +
                             "read from the host at request time.");

        return api;
    }

    public static async Task<Ok<HostInfo>> GetHostAsync(HostInfoReader reader, CancellationToken cancellationToken) =>
        TypedResults.Ok(await reader.ReadAsync(cancellationToken));

    public static IServiceCollection AddHostInfo(this IServiceCollection services) =>
        services.AddSingleton<HostInfoReader>();
}
