namespace GpuLxc.Api.Nvenc;

/// <summary>
/// The encode sessions one budget's GPUs run now, by holder (design §6). A holder is a container (its id, as
/// <see cref="SessionAttribution"/> reads it from the cgroup and as a lease names it in <c>containerId</c>) or
/// <see cref="HostHolder"/>: processes outside any container, sessions whose cgroup could not be read, and leases that
/// name no container.
/// </summary>
/// <param name="ByHolder">Sessions the driver names (NVML lists them with their host PIDs), counted per holder.</param>
/// <param name="Unnamed">
/// Sessions the driver only counts (nvidia-smi gives no PIDs; NVML's count running ahead of its list). They belong to
/// no known holder, so no lease can be taken to cover one: each holds a slot of its own.
/// </param>
public sealed record ObservedUse(IReadOnlyDictionary<string, int> ByHolder, int Unnamed)
{
    /// <summary>The host's holder key: the empty string, which no container id can be.</summary>
    public const string HostHolder = "";

    /// <summary>Every session observed: named and unnamed.</summary>
    public int Total => ByHolder.Values.Sum() + Unnamed;

    /// <summary>The holder a lease or a session counts for: its container, or the host when it has none.</summary>
    public static string HolderOf(string? containerId) => containerId ?? HostHolder;

    /// <summary>
    /// Slots in use: over holders, the sum of max(that holder's active leases, its named sessions), plus the unnamed
    /// sessions. A holder's leased sessions show up among its own observed ones, so the larger of the two counts each
    /// once; encodes that took no lease still hold their slots, and one holder's leases never cover another's encodes.
    /// <see cref="LeaseStore.TryAcquireAsync"/> evaluates the same sum in SQL, in the statement that grants.
    /// </summary>
    /// <param name="leaseContainers">The <c>containerId</c> of each active lease of the budget (null: the host).</param>
    public int InUse(IEnumerable<string?> leaseContainers)
    {
        var leases = leaseContainers.GroupBy(HolderOf, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        return leases.Keys.Union(ByHolder.Keys, StringComparer.Ordinal)
            .Sum(holder => Math.Max(leases.GetValueOrDefault(holder), ByHolder.GetValueOrDefault(holder))) + Unnamed;
    }
}
