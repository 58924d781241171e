using Microsoft.AspNetCore.Http.HttpResults;

namespace GpuLxc.Api.Diagnostics;

public static class DiagnosticsApi
{
    public static RouteGroupBuilder MapDiagnostics(this RouteGroupBuilder api)
    {
        api.MapGet("/diagnostics", RunDiagnosticsAsync)
            .WithTags("Diagnostics")
            .WithName("GetDiagnostics")
            .WithSummary("Check the host for everything a container needs to use its GPU")
            .WithDescription("Each check has a status (pass, warn, fail, skip), what was found and a concrete fix. Reads only.");
        return api;
    }

    public static async Task<Ok<DiagnosticsReport>> RunDiagnosticsAsync(HostDiagnostics diagnostics, CancellationToken cancellationToken) =>
        TypedResults.Ok(await diagnostics.RunAsync(cancellationToken));

    public static IServiceCollection AddDiagnostics(this IServiceCollection services) =>
        services.AddSingleton<HostDiagnostics>().AddSingleton<ContainerAudit>().AddSingleton<DriverPropertyChecks>().AddSingleton<ModulesLoadFiles>();
}
