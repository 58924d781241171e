using GpuLxc.Api.Auth;

namespace GpuLxc.Api.Infrastructure;

public static class ApiV1
{
    /// <summary>The <c>/api/v1</c> group: every route in it needs an API key with the right scope.</summary>
    public static RouteGroupBuilder MapApiV1(this IEndpointRouteBuilder app) =>
        app.MapGroup("/api/v1").RequireApiKeyScopes();
}
