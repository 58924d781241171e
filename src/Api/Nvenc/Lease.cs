namespace GpuLxc.Api.Nvenc;

/// <summary>The right to one NVENC encode session until <see cref="ExpiresAt"/>, unless renewed.</summary>
/// <param name="Id">The lease id, for renew and release.</param>
/// <param name="Holder">Who holds it (a transcoder's name, a job id).</param>
/// <param name="Owner">The API key that acquired it; only that key (or an admin key) may renew or release it.</param>
/// <param name="ContainerId">The container the session runs in; null: the host. The lease counts with the sessions observed there.</param>
/// <param name="Gpu">The GPU the session counts against (PCI address) with scope <c>gpu</c>; null with scope <c>host</c>.</param>
/// <param name="Budget">The budget it counts against: <c>host</c> or a GPU's PCI address.</param>
/// <param name="CreatedAt">When it was granted.</param>
/// <param name="ExpiresAt">When it lapses unless renewed.</param>
public sealed record Lease(string Id, string Holder, string? Owner, string? ContainerId, string? Gpu, string Budget, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt);

/// <summary>The lifetimes a lease may be given, in seconds: what a request may ask for, and <c>GpuLxc:Nvenc:DefaultTtlSeconds</c>.</summary>
public static class LeaseTtl
{
    public const int MinSeconds = 5;
    public const int MaxSeconds = 86_400;
}

/// <summary>The body of <c>POST /api/v1/nvenc/leases</c>.</summary>
/// <param name="Holder">Who asks: 1–128 printable characters.</param>
/// <param name="ContainerId">The container the session will run in (per-container quotas apply); omitted: the host. A holder's leases and the encodes observed in it are counted together, as max(leases, encodes).</param>
/// <param name="GpuId">With scope <c>gpu</c>: the GPU (UUID, PCI address or index); omitted = the one with most room.</param>
/// <param name="TtlSeconds">Lifetime, 5–86400 s (default 60); renew before it ends.</param>
/// <param name="WaitSeconds">When the budget is full, wait up to this long (0–300 s) in FIFO order instead of a 429.</param>
public sealed record LeaseRequest(string Holder, string? ContainerId = null, string? GpuId = null, int? TtlSeconds = null, int? WaitSeconds = null);

/// <summary>The body of <c>PUT /api/v1/nvenc/leases/{leaseId}</c>.</summary>
/// <param name="TtlSeconds">The new lifetime from now, 5–86400 s (default: the service's default TTL).</param>
public sealed record RenewRequest(int? TtlSeconds = null);

/// <summary>One budget of concurrent sessions.</summary>
/// <param name="Key"><c>host</c>, or a GPU's PCI address with scope <c>gpu</c>.</param>
/// <param name="Gpus">The GPUs whose sessions count against it.</param>
/// <param name="Limit">Concurrent sessions allowed; null = unrestricted.</param>
/// <param name="LimitSource">Where the limit comes from.</param>
/// <param name="InUse">Slots taken: summed over holders (each container; the host with the unattributed sessions), max(that holder's active leases, its observed sessions), plus the sessions the driver counts without naming them.</param>
/// <param name="Available">Leases that can still be granted: limit − in use, at least 0; null when unrestricted.</param>
/// <param name="Leases">Active leases.</param>
/// <param name="Observed">Encode sessions the driver reports running.</param>
/// <param name="PeakLeases">The most leases active at once since the service started.</param>
public sealed record NvencBudget(string Key, IReadOnlyList<string> Gpus, int? Limit, Inventory.NvencLimitSource LimitSource, int InUse, int? Available, int Leases, int Observed, int PeakLeases);

/// <summary>An encode session the driver reports, attributed to a container through <c>/proc/&lt;pid&gt;/cgroup</c>.</summary>
/// <param name="Gpu">The GPU (PCI address).</param>
/// <param name="Pid">The host PID of the encoding process.</param>
/// <param name="ContainerId">The container the process runs in; null when it could not be attributed (it still counts).</param>
/// <param name="Codec"><c>h264</c>, <c>hevc</c>, <c>av1</c>.</param>
/// <param name="Width">Horizontal resolution.</param>
/// <param name="Height">Vertical resolution.</param>
/// <param name="AverageFps">Average frames per second.</param>
public sealed record ObservedSession(string Gpu, int Pid, string? ContainerId, string Codec, int Width, int Height, int AverageFps);

/// <summary>The NVENC guard's view of the host.</summary>
/// <param name="Scope"><c>host</c> (one budget for the machine, as NVIDIA counts consumer sessions) or <c>gpu</c>.</param>
/// <param name="Budgets">The budgets leases count against.</param>
/// <param name="Leases">Every active lease.</param>
/// <param name="Sessions">Every encode session the driver reports, with its container.</param>
/// <param name="Notes">Why a figure is unknown (no NVML, no NVENC, …).</param>
public sealed record NvencStatus(string Scope, IReadOnlyList<NvencBudget> Budgets, IReadOnlyList<Lease> Leases, IReadOnlyList<ObservedSession> Sessions, IReadOnlyList<string> Notes);
