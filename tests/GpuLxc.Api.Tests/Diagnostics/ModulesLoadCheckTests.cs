using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Diagnostics;

/// <summary>Issue 13, kind D: modules-load.d is read as systemd-modules-load reads it, not searched for a name.</summary>
public sealed class ModulesLoadCheckTests
{
    [Fact]
    public async Task ATrailingCommentMakesTheLineLoadNothingAndTheCheckNamesTheLine()
    {
        var tree = HostFixtures.Seed().WithFile("/etc/modules-load.d/modules.conf", "# Nvidia modules\nnvidia\nnvidia_uvm # for CUDA\n");
        using var factory = new GpuLxcApiFactory(tree);

        var check = (await factory.CreateGpuLxcClient().GetDiagnosticsAsync()).Checks.Single(c => c.Id == "modules-load");

        Assert.Equal(CheckStatus.Warn, check.Status);
        var finding = Assert.Single(check.Findings!);
        Assert.Equal(("/etc/modules-load.d/modules.conf", 3), (finding.File, finding.Line));
        Assert.Contains("`nvidia_uvm`", finding.Fix, StringComparison.Ordinal);
        Assert.Contains("nvidia_uvm", check.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFileInEtcHidesTheSameNamedFileInUsrLib()
    {
        var tree = HostFixtures.Seed().Without("/etc/modules-load.d/modules.conf")
            .WithFile("/usr/lib/modules-load.d/nvidia.conf", "nvidia\nnvidia_uvm\n")
            .WithFile("/etc/modules-load.d/nvidia.conf", "# disabled here\n");
        using var factory = new GpuLxcApiFactory(tree);

        var check = (await factory.CreateGpuLxcClient().GetDiagnosticsAsync()).Checks.Single(c => c.Id == "modules-load");

        Assert.Equal(CheckStatus.Warn, check.Status);
    }
}
