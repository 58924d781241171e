using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Hosts;

public sealed class HostApiTests
{
    [Fact]
    public async Task GettingHostOnProxmoxReportsTheFactsOfThePreparedHost()
    {
        using var factory = new GpuLxcApiFactory(HostTree.Proxmox());

        var host = await factory.CreateGpuLxcClient(TestKeys.Read).GetHostAsync();

        Assert.Equal("pve1", host.Hostname);
        Assert.Equal("6.8.12-4-pve", host.KernelRelease);
        Assert.Equal("debian", host.Os?.Id);
        Assert.Equal("12", host.Os?.VersionId);
        Assert.Equal("bookworm", host.Os?.VersionCodename);
        Assert.Equal("Debian GNU/Linux 12 (bookworm)", host.Os?.PrettyName);
        Assert.Equal(CgroupVersion.V2, host.CgroupVersion);
        Assert.Equal(HostBackend.Proxmox, host.Backend);
        Assert.Equal(HostBackendSource.Detected, host.BackendSource);
        Assert.Equal("8.2.4", host.ProxmoxVersion);
        Assert.Empty(host.Notes);
    }

    [Fact]
    public async Task GettingHostWithLxcToolsAndNoProxmoxDetectsTheLxcBackend()
    {
        var tree = HostTree.Proxmox().Without("/etc/pve").WithoutCommand("pveversion").WithCommand("lxc-ls", "exit 0");
        using var factory = new GpuLxcApiFactory(tree);

        var host = await factory.CreateGpuLxcClient().GetHostAsync();

        Assert.Equal(HostBackend.Lxc, host.Backend);
        Assert.Null(host.ProxmoxVersion);
    }

    [Fact]
    public async Task GettingHostWithAConfiguredBackendUsesItOverDetection()
    {
        using var factory = new GpuLxcApiFactory(HostTree.Proxmox());
        factory.Settings["GpuLxc:Host:Backend"] = "none";

        var host = await factory.CreateGpuLxcClient().GetHostAsync();

        Assert.Equal(HostBackend.None, host.Backend);
        Assert.Equal(HostBackendSource.Configured, host.BackendSource);
    }

    [Theory]
    [InlineData("/sys/fs/cgroup/unified/cgroup.controllers", CgroupVersion.Hybrid)]
    [InlineData("/sys/fs/cgroup/devices/devices.list", CgroupVersion.V1)]
    public async Task GettingHostReportsLegacyCgroupLayouts(string marker, CgroupVersion expected)
    {
        var tree = HostTree.Proxmox().Without("/sys/fs/cgroup").WithFile(marker, "");
        using var factory = new GpuLxcApiFactory(tree);

        var host = await factory.CreateGpuLxcClient().GetHostAsync();

        Assert.Equal(expected, host.CgroupVersion);
    }

    [Fact]
    public async Task GettingHostWithMissingFilesAndAFailingPveversionNotesWhatIsMissing()
    {
        var tree = HostTree.Proxmox()
            .Without("/proc")
            .Without("/etc/os-release")
            .Without("/sys")
            .WithCommand("pveversion", "echo 'ipcc_send_rec failed' >&2; exit 2");
        using var factory = new GpuLxcApiFactory(tree);

        var host = await factory.CreateGpuLxcClient().GetHostAsync();

        Assert.Null(host.Hostname);
        Assert.Null(host.KernelRelease);
        Assert.Null(host.Os);
        Assert.Null(host.ProxmoxVersion);
        Assert.Equal(CgroupVersion.Unknown, host.CgroupVersion);
        Assert.Contains(host.Notes, note => note.Contains("hostname", StringComparison.Ordinal));
        Assert.Contains(host.Notes, note => note.Contains("osrelease", StringComparison.Ordinal));
        Assert.Contains(host.Notes, note => note.Contains("os-release", StringComparison.Ordinal));
        Assert.Contains(host.Notes, note => note.Contains("cgroup", StringComparison.Ordinal));
        Assert.Contains(host.Notes, note => note.Contains("pveversion exited with 2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task GettingHostFallsBackToEtcHostname()
    {
        var tree = HostTree.Proxmox().Without("/proc/sys/kernel/hostname").WithFile("/etc/hostname", "node-b\n");
        using var factory = new GpuLxcApiFactory(tree);

        var host = await factory.CreateGpuLxcClient().GetHostAsync();

        Assert.Equal("node-b", host.Hostname);
    }
}
