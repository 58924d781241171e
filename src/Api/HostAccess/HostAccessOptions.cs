namespace GpuLxc.Api.HostAccess;

/// <summary>Bound from <c>GpuLxc:Host</c> (design §2).</summary>
public sealed class HostAccessOptions
{
    public const string Section = "GpuLxc:Host";

    /// <summary>Prefix for every host path; tests and the demo point it at a prepared tree.</summary>
    public string Root { get; set; } = "/";

    /// <summary>Directories (separated by <c>:</c>) searched before <c>PATH</c> for host commands.</summary>
    public string? BinPath { get; set; }

    /// <summary><c>auto</c>, <c>proxmox</c>, <c>lxc</c> or <c>none</c>.</summary>
    public string Backend { get; set; } = "auto";
}
