using System.Text;
using GpuLxc.Api.Tests.Cli;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Cli;

namespace GpuLxc.Api.Tests.Dri;

/// <summary><c>gpulxc gpus</c> and <c>gpulxc attach --drm</c> on the host with an iGPU beside the NVIDIA GPU.</summary>
public sealed class DriCliTests
{
    [Fact]
    public async Task GpusShowsTheIgpuWithItsVendorAndNodesAndAttachDrmPassesThem()
    {
        using var factory = new GpuLxcApiFactory(IgpuHosts.NvidiaProbedFirst());

        var gpus = await CliRun.RunAsync(factory, "gpus");
        var attach = await CliRun.RunAsync(factory, "attach", "102", "--drm", "0000:00:02.0", "--mode", "raw");

        Assert.True(gpus.ExitCode == ExitCodes.Ok, gpus.ToString());
        var igpuRow = gpus.Out.Split('\n').Single(line => line.Contains("0000:00:02.0", StringComparison.Ordinal));
        Assert.Contains("intel", igpuRow, StringComparison.Ordinal);
        Assert.Contains("i915", igpuRow, StringComparison.Ordinal);
        Assert.Contains("card1 renderD129", igpuRow, StringComparison.Ordinal);
        Assert.Contains("card0 renderD128", gpus.Out.Split('\n').Single(line => line.Contains("0000:01:00.0", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.True(attach.ExitCode == ExitCodes.Ok, attach.ToString());
        Assert.Contains("lxc.mount.entry: /dev/dri/by-path/pci-0000:00:02.0-render dev/dri/renderD128 none bind,optional,create=file",
            Encoding.UTF8.GetString(factory.Host.Bytes("/etc/pve/lxc/102.conf")), StringComparison.Ordinal);
    }
}
