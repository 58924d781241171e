using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Diagnostics;

public sealed class DiagnosticsApiTests
{
    [Fact]
    public async Task TheSeedHostPassesTheDriverChecksAndIsWarnedOnlyAboutPersistenced()
    {
        using var factory = new GpuLxcApiFactory(HostFixtures.Seed());

        var report = await factory.CreateGpuLxcClient().GetDiagnosticsAsync();

        Assert.True(report.Checks.Count >= 12);
        Assert.Equal(report.Checks.Count, report.Checks.Select(c => c.Id).Distinct().Count());
        var failing = report.Checks.Where(c => c.Status is CheckStatus.Fail or CheckStatus.Warn).Select(c => c.Id);
        Assert.Equal(["persistenced"], failing);
        Assert.Equal(CheckStatus.Warn, report.Status);
        Assert.All(report.Checks.Where(c => c.Status is CheckStatus.Fail or CheckStatus.Warn), c => Assert.False(string.IsNullOrEmpty(c.Fix)));
    }

    [Fact]
    public async Task ANouveauHostFailsWithTheBlacklistFix()
    {
        using var factory = new GpuLxcApiFactory(HostFixtures.Nouveau());

        var checks = (await factory.CreateGpuLxcClient().GetDiagnosticsAsync()).Checks.ToDictionary(c => c.Id);

        Assert.Equal(CheckStatus.Fail, checks["driver-loaded"].Status);
        Assert.Equal(CheckStatus.Fail, checks["gpu-bound"].Status);
        Assert.Contains("blacklist nouveau", checks["gpu-bound"].Fix, StringComparison.Ordinal);
        Assert.Equal(CheckStatus.Fail, checks["nouveau-absent"].Status);
        Assert.Equal(CheckStatus.Skip, checks["device-nodes-present"].Status);
    }

    [Fact]
    public async Task AnUpgradedButNotRebootedHostIsWarnedToReboot()
    {
        using var factory = new GpuLxcApiFactory(HostFixtures.UpgradedNotRebooted());

        var check = (await factory.CreateGpuLxcClient().GetDiagnosticsAsync()).Checks.Single(c => c.Id == "driver-versions-agree");

        Assert.Equal(CheckStatus.Warn, check.Status);
        Assert.Contains("418.226.00", check.Detail, StringComparison.Ordinal);
        Assert.Contains("Reboot", check.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MissingAndMismatchedNodesFailWithThePathsNamed()
    {
        var tree = HostFixtures.Seed().Without("/dev/nvidiactl").Without("/dev/nvidia-uvm").WithCharDevice("/dev/nvidia-uvm", 240, 0);
        using var factory = new GpuLxcApiFactory(tree);

        var checks = (await factory.CreateGpuLxcClient().GetDiagnosticsAsync()).Checks.ToDictionary(c => c.Id);

        Assert.Equal(CheckStatus.Fail, checks["device-nodes-present"].Status);
        Assert.Contains("/dev/nvidiactl", checks["device-nodes-present"].Detail, StringComparison.Ordinal);
        Assert.Equal(CheckStatus.Fail, checks["device-node-majors"].Status);
        Assert.Contains("/dev/nvidia-uvm", checks["device-node-majors"].Detail, StringComparison.Ordinal);
        Assert.Contains("243", checks["device-node-majors"].Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ACgroupV1KeyInAContainersMainSectionFailsOnACgroupV2Host()
    {
        var tree = HostFixtures.H100()
            .WithFile("/etc/pve/lxc/101.conf", "arch: amd64\nlxc.cgroup.devices.allow: c 195:* rwm\n")
            .WithFile("/etc/pve/lxc/102.conf", "arch: amd64\nlxc.cgroup2.devices.allow: c 195:* rwm\n\n[before-upgrade]\nlxc.cgroup.devices.allow: c 195:* rwm\n");
        using var factory = new GpuLxcApiFactory(tree);

        var check = (await factory.CreateGpuLxcClient().GetDiagnosticsAsync()).Checks.Single(c => c.Id == "cgroup-keys");

        Assert.Equal(CheckStatus.Fail, check.Status);
        Assert.Contains("/etc/pve/lxc/101.conf", check.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("102.conf", check.Detail, StringComparison.Ordinal);
        Assert.Contains("lxc.cgroup2.devices.allow", check.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SecureBootWithAnUnsignedModuleFails()
    {
        var tree = HostFixtures.Seed().WithFile("/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c", "\u0006\0\0\0\u0001");
        using var factory = new GpuLxcApiFactory(tree);
        var client = factory.CreateGpuLxcClient();

        var check = (await client.GetDiagnosticsAsync()).Checks.Single(c => c.Id == "secure-boot");

        Assert.Equal("enabled", (await client.GetHostAsync()).SecureBoot);
        Assert.Equal(CheckStatus.Fail, check.Status);
        Assert.Contains("mokutil", check.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheH100HasNoEncoderAndIsWarnedAboutTranscoding()
    {
        using var factory = new GpuLxcApiFactory(HostFixtures.H100());

        var check = (await factory.CreateGpuLxcClient().GetDiagnosticsAsync()).Checks.Single(c => c.Id == "nvenc-present");

        Assert.Equal(CheckStatus.Warn, check.Status);
        Assert.Contains("H100", check.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DkmsWithoutABuildForTheRunningKernelFails()
    {
        var tree = HostFixtures.Seed().WithCommand("dkms",
            "echo 'nvidia/418.152.00, 5.4.73-1-pve, x86_64: installed'; echo 'nvidia/418.152.00: added'");
        using var factory = new GpuLxcApiFactory(tree);

        var check = (await factory.CreateGpuLxcClient().GetDiagnosticsAsync()).Checks.Single(c => c.Id == "dkms-built");

        Assert.Equal(CheckStatus.Fail, check.Status);
        Assert.Contains("dkms autoinstall -k 5.4.78-2-pve", check.Fix, StringComparison.Ordinal);
    }
}
