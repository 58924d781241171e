using System.Text.RegularExpressions;
using FluentValidation;
using GpuLxc.Api.Auth;
using GpuLxc.Api.Containers;
using GpuLxc.Api.HostAccess;
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
            .WithDescription("Scope, limit and where it comes from, in use (summed over holders — each container, and the host " +
                             "with the unattributed sessions — of max(that holder's leases, its observed sessions): encodes " +
                             "without a lease hold slots too), available, the active leases, and every encode session with " +
                             "the container it runs in.");

        var leases = nvenc.MapGroup("/leases").RequireScope(Scopes.Sessions);
        leases.MapPost("/", AcquireLeaseAsync).WithName("AcquireLease")
            .WithSummary("Acquire the right to one encode session")
            .WithDescription("201 with the lease, or 429 with Retry-After when the budget is full. With `waitSeconds` the request " +
                             "waits in FIFO order for a slot instead. Leases lapse at `expiresAt` unless renewed.")
            .WithValidation<LeaseRequest>()
            .Problems(NvencProblems.NoEncoder, NvencProblems.NoSuchGpu, NvencProblems.UnknownContainer, ContainerProblems.NoBackend,
                ContainerProblems.InvalidId, NvencProblems.BudgetFull);
        leases.MapGet("/{leaseId}", GetLeaseAsync).WithName("GetLease").WithSummary("One active lease")
            .Problems(NvencProblems.LeaseNotFound);
        leases.MapPut("/{leaseId}", RenewLeaseAsync).WithName("RenewLease")
            .WithSummary("Renew a lease: it now lapses `ttlSeconds` from now")
            .WithDescription("Only the key that acquired the lease, or an admin key, may renew it.")
            .WithValidation<RenewRequest>()
            .Problems(NvencProblems.LeaseNotFound, NvencProblems.NotOwner);
        leases.MapDelete("/{leaseId}", ReleaseLeaseAsync).WithName("ReleaseLease").WithSummary("Release a lease; its slot frees at once")
            .WithDescription("Only the key that acquired the lease, or an admin key, may release it.")
            .Problems(NvencProblems.LeaseNotFound, NvencProblems.NotOwner);
        return api;
    }

    public static async Task<Ok<NvencStatus>> GetNvencAsync(NvencGuard guard, CancellationToken cancellationToken) =>
        TypedResults.Ok(await guard.StatusAsync(cancellationToken));

    public static async Task<Created<Lease>> AcquireLeaseAsync(
        LeaseRequest request, NvencGuard guard, ContainerDirectory containers, IHostFileSystem files, Caller caller, CancellationToken cancellationToken)
    {
        if (request.ContainerId is { } containerId)
        {
            // A lease for a container that is not there would hold a slot no observed session can ever be matched to.
            var backend = containers.BackendFor(containerId);
            if (!files.FileExists(backend.ConfigPath(containerId)))
            {
                throw NvencProblems.NoContainer(containerId, backend.ConfigPath(containerId));
            }
        }

        var outcome = await guard.AcquireAsync(request, caller.KeyName, cancellationToken);
        return outcome.Lease is { } lease
            ? TypedResults.Created($"/api/v1/nvenc/leases/{lease.Id}", lease)
            : throw NvencProblems.BudgetFullFor(outcome.Refusal, outcome.RetryAfterSeconds);
    }

    public static async Task<Ok<Lease>> GetLeaseAsync(string leaseId, NvencGuard guard, CancellationToken cancellationToken) =>
        await guard.FindAsync(leaseId, cancellationToken) is { } lease ? TypedResults.Ok(lease) : throw NvencProblems.NoSuchLease(leaseId);

    public static async Task<Ok<Lease>> RenewLeaseAsync(string leaseId, RenewRequest request, NvencGuard guard, Caller caller, CancellationToken cancellationToken) =>
        await guard.RenewAsync(leaseId, request.TtlSeconds, caller.KeyName, caller.IsAdmin, cancellationToken) is { } lease
            ? TypedResults.Ok(lease)
            : throw NvencProblems.NoSuchLease(leaseId);

    public static async Task<NoContent> ReleaseLeaseAsync(string leaseId, NvencGuard guard, Caller caller, CancellationToken cancellationToken) =>
        await guard.ReleaseAsync(leaseId, caller.KeyName, caller.IsAdmin, cancellationToken)
            ? TypedResults.NoContent()
            : throw NvencProblems.NoSuchLease(leaseId);

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

    [GeneratedRegex(@"^[\x21-\x7E](?:[\x20-\x7E]{0,126}[\x21-\x7E])?\z")]
    private static partial Regex HolderPattern();

    private sealed class LeaseRequestValidator : AbstractValidator<LeaseRequest>
    {
        public LeaseRequestValidator()
        {
            RuleFor(r => r.Holder).Must(h => h is not null && HolderPattern().IsMatch(h)).WithMessage("holder must be 1–128 printable ASCII characters.");
            RuleFor(r => r.ContainerId).Must(id => id is null || ContainerIds.IsWellFormed(id))
                .WithMessage($"containerId must be {ContainerIds.Rule}.");
            RuleFor(r => r.GpuId).Must(id => id is null || GpuIds.IsWellFormed(id)).WithMessage($"gpuId must be {GpuIds.Rule}.");
            RuleFor(r => r.TtlSeconds).InclusiveBetween(5, 86_400).When(r => r.TtlSeconds is not null);
            RuleFor(r => r.WaitSeconds).InclusiveBetween(0, 300).When(r => r.WaitSeconds is not null);
        }
    }

    private sealed class RenewRequestValidator : AbstractValidator<RenewRequest>
    {
        public RenewRequestValidator() => RuleFor(r => r.TtlSeconds).InclusiveBetween(5, 86_400).When(r => r.TtlSeconds is not null);
    }
}
