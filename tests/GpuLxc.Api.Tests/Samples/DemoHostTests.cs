using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Samples;

/// <summary>samples/hosts/demo works as its README says.</summary>
public sealed class DemoHostTests
{
    [Fact]
    public async Task WithoutMaterializingTheDemoHostEveryMissingNodeIsNamed()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Demo(materialized: false));
        var client = factory.CreateGpuLxcClient();

        var driver = await client.GetHostDriverAsync();
        var check = (await client.GetDiagnosticsAsync()).Checks.Single(c => c.Id == "device-nodes-present");

        Assert.False(driver.DeviceNodesComplete);
        Assert.All(driver.DeviceNodes, node => Assert.False(node.Present));
        Assert.Equal(CheckStatus.Fail, check.Status);
        Assert.Contains("/dev/nvidiactl", check.Detail, StringComparison.Ordinal);
        Assert.Contains("/dev/nvidia-uvm", check.Detail, StringComparison.Ordinal);
        Assert.Contains("nvidia-modprobe", check.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheMaterializedDemoHostIsAProxmoxNodeWithAnRtx3060()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Demo(materialized: true));
        var client = factory.CreateGpuLxcClient();

        var host = await client.GetHostAsync();
        var gpu = Assert.Single((await client.ListGpusAsync()).Gpus);
        var driver = await client.GetHostDriverAsync();
        var checks = (await client.GetDiagnosticsAsync()).Checks.ToDictionary(c => c.Id);

        Assert.Equal((HostBackend.Proxmox, "8.2.7", CgroupVersion.V2), (host.Backend, host.ProxmoxVersion, host.CgroupVersion));
        Assert.Equal("NVIDIA GeForce RTX 3060", gpu.Name);
        Assert.Equal((true, 8, 1), (gpu.Nvenc.Supported, gpu.Nvenc.Limit, gpu.Nvenc.SessionCount));
        Assert.True(driver.DeviceNodesComplete);
        Assert.Equal(509, driver.DeviceNodes.Single(n => n.Path == "/dev/nvidia-uvm").Major);
        Assert.Equal(511, driver.DeviceNodes.Single(n => n.Path == "/dev/nvidia-caps/nvidia-cap2").Major);
        Assert.Equal(CheckStatus.Pass, checks["device-node-majors"].Status);
        Assert.Equal(CheckStatus.Pass, checks["dkms-built"].Status);
        Assert.Equal(CheckStatus.Fail, checks["cgroup-keys"].Status);
        Assert.Contains("/etc/pve/lxc/102.conf", checks["cgroup-keys"].Detail, StringComparison.Ordinal);
    }
}
