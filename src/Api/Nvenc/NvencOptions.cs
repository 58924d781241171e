namespace GpuLxc.Api.Nvenc;

/// <summary>Bound from <c>GpuLxc:Nvenc</c>.</summary>
public sealed class NvencOptions
{
    public const string Section = "GpuLxc:Nvenc";

    /// <summary><c>host</c> (one budget for the machine, as NVIDIA enforces) or <c>gpu</c>.</summary>
    public string Scope { get; set; } = "host";

    /// <summary>The operator's session limit; wins over the driver table.</summary>
    public int? LimitOverride { get; set; }

    /// <summary>Per-container caps on concurrent leases: <c>GpuLxc__Nvenc__Quotas__101=2</c>.</summary>
    public Dictionary<string, int> Quotas { get; init; } = new(StringComparer.Ordinal);

    /// <summary>How long a lease lives when the request names no TTL.</summary>
    public int DefaultTtlSeconds { get; set; } = 60;
}
