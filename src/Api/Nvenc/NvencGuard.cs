using System.Globalization;
using GpuLxc.Api.Events;
using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.Inventory;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Nvenc;

/// <summary>The outcome of an acquisition.</summary>
public sealed record AcquireOutcome(Lease? Lease, int RetryAfterSeconds, string? Refusal);

/// <summary>
/// Hands out leases against the NVENC budget. In use is summed over holders (each container; the host with the
/// unattributed sessions) of max(that holder's active leases, its observed sessions), plus the sessions the driver
/// only counts (<see cref="ObservedUse"/>); a lease is granted only while that is below the limit, decided in the
/// statement that inserts it. A budget that fills up publishes <see cref="EventTypes.NvencBudgetFull"/> once; it may
/// again once a release, an expiry or a reading has seen room in it.
/// </summary>
public sealed partial class NvencGuard(
    LeaseStore store,
    GpuInventory inventory,
    NvencBudgets budgets,
    LeaseWaitLine line,
    IOptions<NvencOptions> options,
    TimeProvider time,
    IEventPublisher events,
    ILogger<NvencGuard> logger)
{
    private readonly HashSet<string> _full = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _peaks = new(StringComparer.Ordinal);
    private readonly Lock _peakGate = new();

    /// <summary>The last status read; what the metrics report between reads.</summary>
    public NvencStatus? LastStatus { get; private set; }

    public async Task<NvencStatus> StatusAsync(CancellationToken cancellationToken)
    {
        var reading = await budgets.ReadAsync(fresh: true, cancellationToken);
        var leases = await store.ActiveAsync(cancellationToken);
        var views = reading.Budgets.Select(budget =>
        {
            var active = leases.Where(l => l.Budget == budget.Key).ToList();
            var use = reading.Use(budget);
            var inUse = use.InUse(active.Select(l => l.ContainerId));
            return new NvencBudget(budget.Key, budget.Gpus, budget.Limit, budget.Source, inUse,
                budget.Limit is { } limit ? Math.Max(0, limit - inUse) : null, active.Count, use.Total, Peak(budget.Key, active.Count));
        }).ToList();
        foreach (var view in views.Where(v => v.Limit is not null))
        {
            NoteUse(view.Key, view.Limit!.Value, view.InUse);
        }

        var status = new NvencStatus(budgets.PerGpu ? "gpu" : "host", views, leases, reading.Sessions, reading.Notes);
        LastStatus = status;
        return status;
    }

    /// <summary>Grants a lease now, or (with a wait) when one frees in FIFO order; otherwise says when to retry.</summary>
    /// <param name="request">What is asked.</param>
    /// <param name="owner">The API key asking; only it (or an admin key) may renew or release the lease.</param>
    /// <param name="cancellationToken">Ends a wait.</param>
    /// <exception cref="ProblemException">The request cannot be served on this host: <see cref="NvencProblems.NoEncoder"/> or <see cref="NvencProblems.NoSuchGpu"/> (409).</exception>
    public async Task<AcquireOutcome> AcquireAsync(LeaseRequest request, string? owner, CancellationToken cancellationToken)
    {
        var reading = await budgets.ReadAsync(fresh: false, cancellationToken);
        var budget = await ChooseBudgetAsync(request, reading, cancellationToken);
        var ttl = TimeSpan.FromSeconds(request.TtlSeconds ?? options.Value.DefaultTtlSeconds);
        int? quota = request.ContainerId is { } container && options.Value.Quotas.TryGetValue(container, out var cap) ? cap : null;

        async Task<bool> QuotaReachedAsync(CancellationToken token) =>
            quota is { } limit && await store.CountForContainerAsync(request.ContainerId!, token) >= limit;

        async Task<Lease?> TryOnceAsync(CancellationToken token)
        {
            // The sessions observed enter the grant's own statement, so the decision over leases and sessions is one.
            var use = (await budgets.ReadAsync(fresh: false, token)).Use(budget);
            if (budget.Limit is { } limit && use.Total >= limit)
            {
                return null;
            }

            var (lease, active) = await store.TryAcquireAsync(budget.Key, budget.Limit, use, request.Holder, owner, request.ContainerId,
                budgets.PerGpu ? budget.Key : null, ttl, quota, token);
            if (lease is not null)
            {
                Peak(budget.Key, active);
                // In use is at most the leases plus the sessions seen: only a grant that may have taken the last slot pays for the exact sum.
                if (budget.Limit is { } cap && active + use.Total >= cap)
                {
                    var holders = (await store.ActiveAsync(token)).Where(l => l.Budget == budget.Key).Select(l => l.ContainerId);
                    NoteUse(budget.Key, cap, use.InUse(holders));
                }
            }
            else if (await QuotaReachedAsync(token))
            {
                // The container's own quota, not the budget, refused it: waiting in the budget's line would only hold up others.
                throw new QuotaReachedException();
            }

            return lease;
        }

        Lease? granted;
        try
        {
            if (await QuotaReachedAsync(cancellationToken))
            {
                throw new QuotaReachedException();
            }

            granted = request.WaitSeconds is > 0 and var wait
                ? await line.WaitAsync(budget.Key, TimeSpan.FromSeconds(wait), TryOnceAsync, cancellationToken)
                : line.HasWaiters(budget.Key) ? null : await TryOnceAsync(cancellationToken);
        }
        catch (QuotaReachedException)
        {
            return new AcquireOutcome(null, await RetryAfterAsync(budget.Key, cancellationToken),
                $"Container {request.ContainerId} already holds its quota of {quota} lease(s).");
        }

        if (granted is not null)
        {
            LogGranted(logger, granted.Id, granted.Holder, granted.Budget);
            return new AcquireOutcome(granted, 0, null);
        }

        return new AcquireOutcome(null, await RetryAfterAsync(budget.Key, cancellationToken), await FullAsync(budget, cancellationToken));
    }

    public Task<Lease?> FindAsync(string leaseId, CancellationToken cancellationToken) => store.FindAsync(leaseId, cancellationToken);

    /// <summary>Renews a lease of <paramref name="caller"/>'s (any lease for an admin key); null when it is not active.</summary>
    /// <exception cref="ProblemException">The lease belongs to another key (<see cref="NvencProblems.NotOwner"/>, 403).</exception>
    public async Task<Lease?> RenewAsync(string leaseId, int? ttlSeconds, string? caller, bool admin, CancellationToken cancellationToken)
    {
        var renewed = await store.RenewAsync(leaseId, admin ? null : caller, TimeSpan.FromSeconds(ttlSeconds ?? options.Value.DefaultTtlSeconds), cancellationToken);
        if (renewed is null)
        {
            await ThrowIfAnothersAsync(leaseId, cancellationToken);
        }

        return renewed;
    }

    /// <summary>Releases a lease of <paramref name="caller"/>'s (any lease for an admin key); false when it was not active.</summary>
    /// <exception cref="ProblemException">The lease belongs to another key (<see cref="NvencProblems.NotOwner"/>, 403).</exception>
    public async Task<bool> ReleaseAsync(string leaseId, string? caller, bool admin, CancellationToken cancellationToken)
    {
        var released = await store.ReleaseAsync(leaseId, admin ? null : caller, cancellationToken);
        if (released is null)
        {
            await ThrowIfAnothersAsync(leaseId, cancellationToken);
            return false;
        }

        line.SlotFreed(released.Budget);
        NoteRoom(released.Budget);
        return true;
    }

    /// <summary>Deletes expired leases and wakes the waiters their slots may serve.</summary>
    public async Task ReapAsync(CancellationToken cancellationToken)
    {
        if (await store.ReapAsync(cancellationToken) > 0)
        {
            line.SlotsFreed();
            lock (_peakGate)
            {
                _full.Clear();
            }
        }
    }

    /// <summary>After a renewal or release touched nothing: an active lease still there is another key's.</summary>
    private async Task ThrowIfAnothersAsync(string leaseId, CancellationToken cancellationToken)
    {
        if (await store.FindAsync(leaseId, cancellationToken) is { } lease)
        {
            throw NvencProblems.NotOwner.With(
                $"Lease '{leaseId}' was acquired with the key '{lease.Owner}'; only that key or an admin key may renew or release it.");
        }
    }

    private async Task<BudgetDefinition> ChooseBudgetAsync(LeaseRequest request, BudgetReading reading, CancellationToken cancellationToken)
    {
        if (!budgets.PerGpu)
        {
            var host = reading.Budgets.Single();
            return host.Limit == 0 ? throw NoEncoder(reading) : host;
        }

        if (reading.Budgets.Count == 0)
        {
            throw NoEncoder(reading);
        }

        if (request.GpuId is { } gpuId)
        {
            var address = GpuInventory.Match(await inventory.TopologyGpusAsync(refresh: false, cancellationToken), gpuId)?.PciAddress;
            return reading.Budgets.FirstOrDefault(b => b.Key == address)
                   ?? throw NvencProblems.NoSuchGpu.With(
                       $"No GPU with an NVENC encoder has the id '{gpuId}'. GET /api/v1/nvenc lists the budgets.");
        }

        // The GPU with the most room now; unrestricted GPUs first.
        var leases = await store.ActiveAsync(cancellationToken);
        return reading.Budgets.OrderByDescending(b => b.Limit is null
            ? int.MaxValue
            : b.Limit.Value - reading.Use(b).InUse(leases.Where(l => l.Budget == b.Key).Select(l => l.ContainerId))).First();
    }

    /// <summary>Why the budget refused: its limit, and the leases and sessions that fill it.</summary>
    private async Task<string> FullAsync(BudgetDefinition budget, CancellationToken cancellationToken)
    {
        var use = (await budgets.ReadAsync(fresh: false, cancellationToken)).Use(budget);
        var leases = (await store.ActiveAsync(cancellationToken)).Where(l => l.Budget == budget.Key).Select(l => l.ContainerId).ToList();
        if (budget.Limit is { } limit)
        {
            NoteUse(budget.Key, limit, use.InUse(leases));
        }

        return $"The budget '{budget.Key}' is full: {budget.Limit} concurrent sessions allowed, {use.InUse(leases)} in use " +
               $"({leases.Count} leased, {use.Total} observed running; encodes without a lease hold slots too).";
    }

    private static ProblemException NoEncoder(BudgetReading reading) =>
        NvencProblems.NoEncoder.With(string.Join(" ", reading.Notes),
            "Set GpuLxc:Nvenc:LimitOverride only if the driver is wrong about the encoder; otherwise encode in software.");

    /// <summary>Seconds until the budget's earliest lease lapses (1–60), or 5 when only observed sessions hold the budget.</summary>
    private async Task<int> RetryAfterAsync(string budget, CancellationToken cancellationToken)
    {
        return await store.NextExpiryAsync(budget, cancellationToken) is { } earliest
            ? (int)Math.Clamp(Math.Ceiling((earliest - time.GetUtcNow()).TotalSeconds), 1, 60)
            : 5;
    }

    private int Peak(string budget, int active)
    {
        lock (_peakGate)
        {
            var peak = Math.Max(_peaks.GetValueOrDefault(budget), active);
            _peaks[budget] = peak;
            return peak;
        }
    }

    /// <summary>Publishes <see cref="EventTypes.NvencBudgetFull"/> when the budget has just filled up; notes room otherwise.</summary>
    private void NoteUse(string budget, int limit, int inUse)
    {
        if (limit <= 0 || inUse < limit)
        {
            NoteRoom(budget);
            return;
        }

        bool filled;
        lock (_peakGate)
        {
            filled = _full.Add(budget);
        }

        if (filled)
        {
            events.Publish(EventTypes.NvencBudgetFull, new { Scope = budget, Limit = limit, InUse = inUse });
        }
    }

    private void NoteRoom(string budget)
    {
        lock (_peakGate)
        {
            _full.Remove(budget);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Lease {LeaseId} granted to {Holder} on budget {Budget}")]
    private static partial void LogGranted(ILogger logger, string leaseId, string holder, string budget);
}

/// <summary>The container's quota, not the budget, refused a lease.</summary>
internal sealed class QuotaReachedException : Exception;
