using System.Net;
using GpuLxc.Api.Tests.Support;

namespace GpuLxc.Api.Tests.Containers;

/// <summary>A GpuLxc killed mid-write leaves a temporary file beside the config; the next start removes it.</summary>
public sealed class TemporaryFileSweeperTests
{
    [Fact]
    public async Task TheNextStartRemovesTheTemporaryFilesAKilledServiceLeftBesideTheConfigs()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        const string leftover = "/etc/pve/lxc/.101.conf.gpulxc-0123456789abcdef0123456789abcdef.tmp";
        const string foreign = "/etc/pve/lxc/.101.conf.swp";
        factory.Host.WithFile(leftover, "arch: amd64\n").WithFile(foreign, "an editor's");
        var config = factory.Host.Bytes("/etc/pve/lxc/101.conf");

        using var http = factory.CreateKeyedClient();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/api/v1/containers", UriKind.Relative))).StatusCode);

        Assert.False(File.Exists(factory.Host.PathOf(leftover)));
        Assert.True(File.Exists(factory.Host.PathOf(foreign)));
        Assert.Equal(config, factory.Host.Bytes("/etc/pve/lxc/101.conf"));
        Assert.Contains(factory.Logs, line => line.Contains(leftover, StringComparison.Ordinal));
    }
}
