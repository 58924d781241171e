using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Hosts;

/// <summary>What the host is: the facts everything else is planned against.</summary>
/// <param name="Hostname">The host's name (<c>/proc/sys/kernel/hostname</c>).</param>
/// <param name="KernelRelease">The running kernel (<c>/proc/sys/kernel/osrelease</c>), e.g. <c>6.8.12-4-pve</c>.</param>
/// <param name="Os">The distribution, from <c>/etc/os-release</c>; null when that file is missing.</param>
/// <param name="CgroupVersion">Whether <c>/sys/fs/cgroup</c> is the unified cgroup2 hierarchy; container device rules depend on it.</param>
/// <param name="Backend">How containers are managed here.</param>
/// <param name="BackendSource">Whether the backend was detected or set by <c>GpuLxc:Host:Backend</c>.</param>
/// <param name="ProxmoxVersion">The <c>pve-manager</c> version from <c>pveversion</c>, when Proxmox VE is installed.</param>
/// <param name="SecureBoot">Secure Boot: <c>enabled</c>, <c>disabled</c>, <c>unsupported</c> (no EFI) or <c>unknown</c>.</param>
/// <param name="NouveauLoaded">Whether the nouveau driver is loaded (it keeps nvidia from binding the GPU).</param>
/// <param name="KernelHeadersPresent">Whether headers for the running kernel are installed (DKMS needs them).</param>
/// <param name="Notes">Facts that could not be read, and why.</param>
public sealed record HostInfo(
    string? Hostname,
    string? KernelRelease,
    OsInfo? Os,
    CgroupVersion CgroupVersion,
    HostBackend Backend,
    HostBackendSource BackendSource,
    string? ProxmoxVersion,
    string SecureBoot,
    bool NouveauLoaded,
    bool KernelHeadersPresent,
    IReadOnlyList<string> Notes);

/// <summary>The distribution, from os-release.</summary>
/// <param name="Id">e.g. <c>debian</c>, <c>ubuntu</c>.</param>
/// <param name="VersionId">e.g. <c>12</c>, <c>24.04</c>.</param>
/// <param name="VersionCodename">e.g. <c>bookworm</c>.</param>
/// <param name="PrettyName">e.g. <c>Debian GNU/Linux 12 (bookworm)</c>.</param>
public sealed record OsInfo(string? Id, string? VersionId, string? VersionCodename, string? PrettyName);

public enum CgroupVersion
{
    /// <summary><c>/sys/fs/cgroup</c> could not be read.</summary>
    Unknown,

    /// <summary>Legacy hierarchy: containers need <c>lxc.cgroup.devices.allow</c>.</summary>
    V1,

    /// <summary>Legacy hierarchy with a unified cgroup2 mount beside it; LXC still uses the v1 devices controller.</summary>
    Hybrid,

    /// <summary>Unified hierarchy: containers need <c>lxc.cgroup2.devices.allow</c>.</summary>
    V2,
}
