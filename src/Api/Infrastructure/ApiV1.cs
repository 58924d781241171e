using GpuLxc.Api.Auth;

namespace GpuLxc.Api.Infrastructure;

public static class ApiV1
{
    /// <summary>
    /// The <c>/api/v1</c> group: every route in it needs an API key with the right scope, and declares the 401/403
    /// of that and, when it takes a body, what a body can be refused with.
    /// </summary>
    public static RouteGroupBuilder MapApiV1(this IEndpointRouteBuilder app) =>
        app.MapGroup("/api/v1").RequireApiKeyScopes().DeclareRequestProblems().RefuseUnknownQueryParameters();
}
