using System.Security.Claims;
using System.Text.RegularExpressions;
using FluentValidation;
using GpuLxc.Api.Auth;
using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.Inventory;
using Microsoft.AspNetCore.Http.HttpResults;

namespace GpuLxc.Api.Nvenc;

public static partial class NvencApi
{
    public static RouteGroupBuilder MapNvenc(this RouteGroupBuilder api)
    {
        var nvenc = api.MapGroup("/nvenc").WithTags("NVENC");
        nvenc.MapGet("/", GetNvencAsync).WithName("GetNvenc")
            .WithSummary("The NVENC session budget")
            .WithDescription("Scope, limit and where it comes from, in use = max(active leases, sessions the driver reports), " +
                             "available, the active leases, and every encode session with the container it runs in.");

        var leases = nvenc.MapGroup("/leases").RequireScope(Scopes.Sessions);
        leases.MapPost("/", AcquireLeaseAsync).WithName("AcquireLease")
            .WithSummary("Acquire the right to one encode session")
            .WithDescription("201 with the lease, or 429 with Retry-After when the budget is full. With `waitSeconds` the request " +
                             "waits in FIFO order for a slot instead. Leases lapse at `expiresAt` unless renewed.")
            .WithValidation<LeaseRequest>()
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
        leases.MapGet("/{leaseId}", GetLeaseAsync).WithName("GetLease").WithSummary("One active lease")
            .ProducesProblem(StatusCodes.Status404NotFound);
        leases.MapPut("/{leaseId}", RenewLeaseAsync).WithName("RenewLease")
            .WithSummary("Renew a lease: it now lapses `ttlSeconds` from now")
            .WithDescription("Only the key that acquired the lease, or an admin key, may renew it.")
            .WithValidation<RenewRequest>()
            .ProducesProblem(StatusCodes.Status404NotFound);
        leases.MapDelete("/{leaseId}", ReleaseLeaseAsync).WithName("ReleaseLease").WithSummary("Release a lease; its slot frees at once")
            .WithDescription("Only the key that acquired the lease, or an admin key, may release it.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return api;
    }

    public static async Task<Ok<NvencStatus>> GetNvencAsync(NvencGuard guard, CancellationToken cancellationToken) =>
        TypedResults.Ok(await guard.StatusAsync(cancellationToken));

    public static async Task<Results<Created<Lease>, ProblemHttpResult>> AcquireLeaseAsync(
        LeaseRequest request, NvencGuard guard, HttpResponse response, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        try
        {
            var outcome = await guard.AcquireAsync(request, user.Identity?.Name, cancellationToken);
            if (outcome.Lease is { } lease)
            {
                return TypedResults.Created($"/api/v1/nvenc/leases/{lease.Id}", lease);
            }

            response.Headers.RetryAfter = outcome.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return TypedResults.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "The NVENC budget is full.",
                detail: outcome.Refusal, type: "urn:gpulxc:problem:nvenc-budget-full",
                extensions: new Dictionary<string, object?> { ["retryAfterSeconds"] = outcome.RetryAfterSeconds });
        }
        catch (ProblemException e)
        {
            return e.ToResult();
        }
    }

    public static async Task<Results<Ok<Lease>, ProblemHttpResult>> GetLeaseAsync(string leaseId, NvencGuard guard, CancellationToken cancellationToken) =>
        await guard.FindAsync(leaseId, cancellationToken) is { } lease ? TypedResults.Ok(lease) : Gone(leaseId);

    public static async Task<Results<Ok<Lease>, ProblemHttpResult>> RenewLeaseAsync(
        string leaseId, RenewRequest request, NvencGuard guard, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        try
        {
            return await guard.RenewAsync(leaseId, request.TtlSeconds, user.Identity?.Name, IsAdmin(user), cancellationToken) is { } lease
                ? TypedResults.Ok(lease)
                : Gone(leaseId);
        }
        catch (ProblemException e)
        {
            return e.ToResult();
        }
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> ReleaseLeaseAsync(string leaseId, NvencGuard guard, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        try
        {
            return await guard.ReleaseAsync(leaseId, user.Identity?.Name, IsAdmin(user), cancellationToken) ? TypedResults.NoContent() : Gone(leaseId);
        }
        catch (ProblemException e)
        {
            return e.ToResult();
        }
    }

    public static IServiceCollection AddNvenc(this IServiceCollection services)
    {
        services.AddNvencOptions();
        services.AddSingleton<SessionAttribution>();
        services.AddSingleton<NvencBudgets>();
        services.AddSingleton<LeaseStore>();
        services.AddSingleton<LeaseWaitLine>();
        services.AddSingleton<NvencGuard>();
        services.AddEagerSingleton<NvencMetrics>();
        services.AddHostedService<LeaseReaper>();
        services.AddSingleton<IValidator<LeaseRequest>, LeaseRequestValidator>();
        services.AddSingleton<IValidator<RenewRequest>, RenewRequestValidator>();
        return services;
    }

    private static bool IsAdmin(ClaimsPrincipal user) => user.HasClaim(Scopes.ClaimType, Scopes.Admin);

    private static ProblemHttpResult Gone(string leaseId) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such lease.",
            detail: $"Lease '{leaseId}' does not exist, expired or was released. Acquire a new one.");

    [GeneratedRegex(@"^[\x21-\x7E](?:[\x20-\x7E]{0,126}[\x21-\x7E])?$")]
    private static partial Regex HolderPattern();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    private static partial Regex ContainerIdPattern();

    private sealed class LeaseRequestValidator : AbstractValidator<LeaseRequest>
    {
        public LeaseRequestValidator()
        {
            RuleFor(r => r.Holder).Must(h => h is not null && HolderPattern().IsMatch(h)).WithMessage("holder must be 1–128 printable ASCII characters.");
            RuleFor(r => r.ContainerId).Must(id => id is null || ContainerIdPattern().IsMatch(id))
                .WithMessage("containerId must be a Proxmox vmid or an LXC container name.");
            RuleFor(r => r.GpuId).Must(id => id is null || InventoryApi.IsWellFormedGpuId(id)).WithMessage($"gpuId must be {InventoryApi.GpuIdRule}.");
            RuleFor(r => r.TtlSeconds).InclusiveBetween(5, 86_400).When(r => r.TtlSeconds is not null);
            RuleFor(r => r.WaitSeconds).InclusiveBetween(0, 300).When(r => r.WaitSeconds is not null);
        }
    }

    private sealed class RenewRequestValidator : AbstractValidator<RenewRequest>
    {
        public RenewRequestValidator() => RuleFor(r => r.TtlSeconds).InclusiveBetween(5, 86_400).When(r => r.TtlSeconds is not null);
    }
}
