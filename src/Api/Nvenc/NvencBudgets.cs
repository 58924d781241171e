using GpuLxc.Api.Inventory;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Nvenc;

/// <summary>A budget's definition: which GPUs count against it and how many sessions it allows (null = unrestricted).</summary>
public sealed record BudgetDefinition(string Key, IReadOnlyList<string> Gpus, int? Limit, NvencLimitSource Source);

/// <summary>The budgets as the host defines them now, and the encode sessions the driver reports.</summary>
/// <param name="Budgets">The budgets leases count against.</param>
/// <param name="Sessions">The sessions the driver lists, each with its GPU and container.</param>
/// <param name="UnnamedByGpu">Per GPU (PCI address), the sessions the driver counts beyond those it lists.</param>
/// <param name="Notes">Why a figure is unknown.</param>
public sealed record BudgetReading(IReadOnlyList<BudgetDefinition> Budgets, IReadOnlyList<ObservedSession> Sessions, IReadOnlyDictionary<string, int> UnnamedByGpu, IReadOnlyList<string> Notes)
{
    /// <summary>The sessions running on the budget's GPUs, by holder.</summary>
    public ObservedUse Use(BudgetDefinition budget) => new(
        Sessions.Where(s => budget.Gpus.Contains(s.Gpu, StringComparer.Ordinal))
            .GroupBy(s => ObservedUse.HolderOf(s.ContainerId), StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal),
        budget.Gpus.Sum(gpu => UnnamedByGpu.GetValueOrDefault(gpu)));

    /// <summary>Every session running on the budget's GPUs.</summary>
    public int Observed(BudgetDefinition budget) => Use(budget).Total;
}

/// <summary>
/// Derives budgets from the inventory (limits by driver branch and brand, <c>GpuLxc:Nvenc:LimitOverride</c> first)
/// and reads the sessions the driver reports, caching the reading for <see cref="ReadingTtl"/> so that a burst of
/// acquisitions costs one read.
/// </summary>
public sealed class NvencBudgets(GpuInventory inventory, SessionAttribution attribution, IOptions<NvencOptions> options, TimeProvider time)
{
    public const string HostBudget = "host";
    public static readonly TimeSpan ReadingTtl = TimeSpan.FromMilliseconds(500);

    private readonly Lock _gate = new();
    private (BudgetReading Reading, DateTimeOffset ReadAt)? _cached;
    private Task<BudgetReading>? _reading;

    public bool PerGpu => options.Value.PerGpu;

    /// <summary>
    /// The cached reading while it is fresh; otherwise one new reading shared by every caller that asks meanwhile
    /// (a burst of requests at expiry must not start a burst of nvidia-smi processes).
    /// </summary>
    public Task<BudgetReading> ReadAsync(bool fresh, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!fresh && _cached is { } cached && time.GetUtcNow() - cached.ReadAt < ReadingTtl)
            {
                return Task.FromResult(cached.Reading);
            }

            if (_reading is null || _reading.IsCompleted)
            {
                _reading = ReadAndCacheAsync();
            }

            return _reading.WaitAsync(cancellationToken);
        }
    }

    private async Task<BudgetReading> ReadAndCacheAsync()
    {
        var reading = await ReadNowAsync(CancellationToken.None);
        lock (_gate)
        {
            _cached = (reading, time.GetUtcNow());
        }

        return reading;
    }

    private async Task<BudgetReading> ReadNowAsync(CancellationToken cancellationToken)
    {
        var list = await inventory.ListAsync(refresh: false, cancellationToken);
        var notes = new List<string>(list.Notes);
        var encoders = list.Gpus.Where(g => g.Nvenc.Supported).ToList();
        var limitOverride = options.Value.LimitOverride;
        if (encoders.Count == 0)
        {
            notes.Add(list.Gpus.Count == 0 ? "No NVIDIA GPU is on this host." : "No GPU on this host has an NVENC encoder.");
        }

        List<BudgetDefinition> budgets;
        if (PerGpu)
        {
            budgets = encoders.Select(g => new BudgetDefinition(g.PciAddress, [g.PciAddress], g.Nvenc.Limit, g.Nvenc.LimitSource)).ToList();
        }
        else if (limitOverride is { } configured)
        {
            budgets = [new BudgetDefinition(HostBudget, encoders.Select(g => g.PciAddress).ToList(), configured, NvencLimitSource.Override)];
        }
        else
        {
            // NVIDIA counts consumer sessions per machine; professional GPUs are limited only by hardware.
            var limited = encoders.Where(g => g.Nvenc.Limit is not null).ToList();
            budgets = encoders.Count == 0
                ? [new BudgetDefinition(HostBudget, [], 0, NvencLimitSource.None)]
                : [new BudgetDefinition(HostBudget, encoders.Select(g => g.PciAddress).ToList(),
                    limited.Count > 0 ? limited.Min(g => g.Nvenc.Limit) : null,
                    limited.Count > 0 ? limited[0].Nvenc.LimitSource : NvencLimitSource.None)];
            if (limited.Count > 0 && limited.Count < encoders.Count)
            {
                notes.Add("This host mixes consumer and professional GPUs: the consumer limit applies to the host budget.");
            }
        }

        var sessions = new List<ObservedSession>();
        var unnamed = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var gpu in list.Gpus)
        {
            unnamed[gpu.PciAddress] = Math.Max(0, (gpu.Nvenc.SessionCount ?? 0) - gpu.Nvenc.Sessions.Count);
            foreach (var session in gpu.Nvenc.Sessions)
            {
                sessions.Add(new ObservedSession(gpu.PciAddress, session.Pid, await attribution.ContainerOfAsync(session.Pid, cancellationToken),
                    session.Codec, session.Width, session.Height, session.AverageFps));
            }
        }

        return new BudgetReading(budgets, sessions, unnamed, notes);
    }
}
