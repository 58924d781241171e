using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Cases;

/// <summary>
/// Case udev-rule-unclosed-quote (../shared/cases/udev-rule-unclosed-quote). Source:
/// https://github.com/gma1n/LXC-JellyFin-GPU/issues/1 — a guide's rules file whose nvidia_uvm rule lacks the closing
/// quote of its RUN+= value; udev ignores that rule, so /dev/nvidia-uvm is not made at boot.
/// </summary>
public sealed class UdevRuleUnclosedQuoteTests
{
    private const string RulesFile = "/etc/udev/rules.d/70-nvidia.rules";

    /// <summary>mkhost.sh DIR: PVE 8.2, GTX 1070, 550.107.02 after a reboot, uvm 509; no /dev/nvidia-uvm.</summary>
    private static HostTree Host() => PveCaseHost.Create("8.2.7", "6.8.12-2-pve", "0000:06:00.0", "1b81", "NVIDIA GeForce GTX 1070", "550.107.02", 509, 510)
        .WithFile(RulesFile, """
            # nodes for containers: GPU and control nodes, then the uvm node
            ACTION=="add", KERNEL=="nvidia", RUN+="/usr/bin/nvidia-smi -L"
            ACTION=="add", KERNEL=="nvidia_uvm", RUN+="/usr/bin/nvidia-modprobe -c0 -u

            """)
        .WithCharDevice("/dev/nvidia0", 195, 0)
        .WithCharDevice("/dev/nvidiactl", 195, 255)
        .WithCommand("nvidia-modprobe", "exit 0")
        .WithContainer("120", "arch: amd64\ncores: 4\nhostname: jellyfin\nmemory: 4096\nostype: ubuntu\nrootfs: local-lvm:vm-120-disk-0,size=16G\nswap: 512\n", "running");

    [Fact]
    public async Task TheMissingUvmNodeFailsAndTheMalformedRuleIsNamedWithItsRepair()
    {
        using var factory = new GpuLxcApiFactory(Host());

        var checks = (await factory.CreateGpuLxcClient().GetDiagnosticsAsync()).Checks.ToDictionary(c => c.Id);

        Assert.Equal(CheckStatus.Fail, checks["device-nodes-present"].Status);
        Assert.Contains("/dev/nvidia-uvm", checks["device-nodes-present"].Detail, StringComparison.Ordinal);
        var udev = checks["udev-rule"];
        Assert.NotEqual(CheckStatus.Pass, udev.Status);
        Assert.Contains(RulesFile, udev.Detail, StringComparison.Ordinal);
        Assert.Contains("nvidia_uvm", udev.Detail, StringComparison.Ordinal);
        Assert.Contains("unterminated quote", udev.Detail, StringComparison.Ordinal);
        var finding = Assert.Single(udev.Findings!);
        Assert.Equal((RulesFile, 3), (finding.File, finding.Line));
        Assert.StartsWith("Repair the rule", finding.Fix, StringComparison.Ordinal);
        Assert.Contains("Repair the rule", udev.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheNodesCheckDoesNotTellTheUserToInstallARuleThatTheUdevCheckSaysToRepair()
    {
        using var factory = new GpuLxcApiFactory(Host());

        var checks = (await factory.CreateGpuLxcClient().GetDiagnosticsAsync()).Checks.ToDictionary(c => c.Id);

        Assert.DoesNotContain("install the udev rule", checks["device-nodes-present"].Fix, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("udev-rule", checks["device-nodes-present"].Fix, StringComparison.Ordinal);
        Assert.DoesNotContain("Add /etc/udev/rules.d/70-nvidia.rules", checks["udev-rule"].Fix, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithTheQuoteClosedTheRulePassesAndNamesWhatItCovers()
    {
        var host = Host().WithFile(RulesFile,
            "ACTION==\"add\", KERNEL==\"nvidia\", RUN+=\"/usr/bin/nvidia-smi -L\"\nACTION==\"add\", KERNEL==\"nvidia_uvm\", RUN+=\"/usr/bin/nvidia-modprobe -c0 -u\"\n");
        using var factory = new GpuLxcApiFactory(host);

        var udev = (await factory.CreateGpuLxcClient().GetDiagnosticsAsync()).Checks.Single(c => c.Id == "udev-rule");

        Assert.Equal(CheckStatus.Pass, udev.Status);
        Assert.Contains($"nvidia_uvm: {RulesFile} line 2", udev.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARuleWhoseProgramIsNotInstalledDoesNotCount()
    {
        var host = Host().WithoutCommand("nvidia-modprobe").WithFile(RulesFile,
            "ACTION==\"add\", KERNEL==\"nvidia\", RUN+=\"/usr/bin/nvidia-smi -L\"\nACTION==\"add\", KERNEL==\"nvidia_uvm\", RUN+=\"/usr/bin/nvidia-modprobe -c0 -u\"\n");
        using var factory = new GpuLxcApiFactory(host);

        var udev = (await factory.CreateGpuLxcClient().GetDiagnosticsAsync()).Checks.Single(c => c.Id == "udev-rule");

        Assert.Equal(CheckStatus.Warn, udev.Status);
        Assert.Contains("/usr/bin/nvidia-modprobe, which does not exist", udev.Detail, StringComparison.Ordinal);
    }
}
