using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Nvenc;
using GpuLxc.Api.Tests.Support;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Tests.Nvenc;

public sealed class SessionAttributionFacts
{
    [Theory]
    [InlineData("0::/lxc/101/ns/system.slice/jellyfin.service\n", "101")]
    [InlineData("0::/lxc/999999999/ns/init.scope\n", "999999999")]
    [InlineData("12:devices:/lxc/205/ns\n11:memory:/lxc/205/ns\n0::/lxc/205/ns\n", "205")]
    [InlineData("0::/lxc.payload.jellyfin/system.slice/jellyfin.service\n", "jellyfin")]
    [InlineData("4:devices:/lxc.payload.plex.media\n0::/lxc.payload.plex.media\n", "plex.media")]
    [InlineData("0::/lxc.payload/frigate\n", "frigate")]
    [InlineData("5:devices:/lxc/tdarr\n", "tdarr")]
    [InlineData("0::/system.slice/ffmpeg.service\n", null)]
    [InlineData("0::/lxc.monitor.jellyfin\n", null)]
    [InlineData("0::/user.slice/user-0.slice/session-1.scope\n", null)]
    public void ContainerOf_ReadsProxmoxAndLxcCgroupPaths(string cgroup, string? expected)
    {
        Assert.Equal(expected, SessionAttribution.ContainerOf(cgroup));
    }

    [Fact]
    public async Task ContainerOfAsync_ReadsTheProcessCgroupUnderTheHostRoot()
    {
        using var tree = new HostTree()
            .WithFile("/proc/4242/cgroup", "0::/lxc/101/ns/system.slice/jellyfin.service\n")
            .WithFile("/proc/4343/cgroup", "0::/system.slice/ffmpeg.service\n");
        var attribution = new SessionAttribution(new HostFileSystem(Options.Create(new HostAccessOptions { Root = tree.Root })));

        Assert.Equal("101", await attribution.ContainerOfAsync(4242, CancellationToken.None));
        Assert.Null(await attribution.ContainerOfAsync(4343, CancellationToken.None));
        Assert.Null(await attribution.ContainerOfAsync(9999, CancellationToken.None));
    }

    [Fact]
    public async Task OwnerOfAsync_TellsAContainerTheHostAnEndedProcessAndAnUnreadableOne()
    {
        using var tree = new HostTree()
            .WithFile("/proc/4242/cgroup", "0::/lxc.payload.jellyfin/system.slice/jellyfin.service\n")
            .WithFile("/proc/4343/cgroup", "0::/system.slice/ffmpeg.service\n")
            .WithDirectory("/proc/4444");
        var attribution = new SessionAttribution(new HostFileSystem(Options.Create(new HostAccessOptions { Root = tree.Root })));

        Assert.Equal(ProcessOwner.In("jellyfin"), await attribution.OwnerOfAsync(4242, CancellationToken.None));
        Assert.Equal(ProcessOwner.Host, await attribution.OwnerOfAsync(4343, CancellationToken.None));
        Assert.Equal(ProcessOwner.Unknown, await attribution.OwnerOfAsync(4444, CancellationToken.None));
        Assert.Equal(ProcessOwner.Exited, await attribution.OwnerOfAsync(9999, CancellationToken.None));
    }
}
