using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Cases;

/// <summary>
/// Case modeset-devN-reboot (../shared/cases/modeset-devN-reboot), "Must" 3: after a reboot that did not recreate
/// /dev/nvidia-modeset, diagnostics name the container whose <c>devN:</c> entry points at it, because Proxmox stat()s
/// every devN path at start and refuses to start the container. Source: https://github.com/remz1337/Proxmox/issues/8.
/// Container 110 holds the dev entries an attach wrote on the "before" host (as observed on 0d1bfb1); 111 the raw,
/// optional mounts, which start.
/// </summary>
public sealed class ModesetDevNRebootAuditTests
{
    private const string Plain = "arch: amd64\ncores: 4\nfeatures: nesting=1\nhostname: frigate\nmemory: 4096\nonboot: 1\nostype: debian\nrootfs: local-lvm:vm-110-disk-0,size=20G\nswap: 512\n";

    /// <summary>mkhost.sh DIR after: PVE 8.2.4, Quadro P2000, 550.90.07, uvm 510, caps 511; nvidia-modeset not recreated.</summary>
    private static HostTree AfterReboot() => PveCaseHost.Create("8.2.4", "6.8.8-4-pve", "0000:01:00.0", "1c30", "Quadro P2000", "550.90.07", 510, 511)
        .WithCharDevice("/dev/nvidia0", 195, 0)
        .WithCharDevice("/dev/nvidiactl", 195, 255)
        .WithCharDevice("/dev/nvidia-uvm", 510, 0)
        .WithCharDevice("/dev/nvidia-uvm-tools", 510, 1)
        .WithContainer("110", Plain + "dev0: /dev/nvidia-modeset\ndev1: /dev/nvidia-uvm\ndev2: /dev/nvidia-uvm-tools\ndev3: /dev/nvidia0\ndev4: /dev/nvidiactl\n")
        .WithContainer("111", Plain.Replace("110", "111", StringComparison.Ordinal) +
            "lxc.cgroup2.devices.allow: c 195:* rwm\nlxc.cgroup2.devices.allow: c 510:* rwm\n" +
            "lxc.mount.entry: /dev/nvidia-modeset dev/nvidia-modeset none bind,optional,create=file\n" +
            "lxc.mount.entry: /dev/nvidia0 dev/nvidia0 none bind,optional,create=file\n" +
            "lxc.mount.entry: /dev/nvidiactl dev/nvidiactl none bind,optional,create=file\n" +
            "lxc.mount.entry: /dev/nvidia-uvm dev/nvidia-uvm none bind,optional,create=file\n");

    [Fact]
    public async Task AfterTheRebootDiagnosticsNameTheDanglingDevEntryOf110WithAFix()
    {
        using var factory = new GpuLxcApiFactory(AfterReboot());

        var report = await factory.CreateGpuLxcClient().GetDiagnosticsAsync();

        var check = report.Checks.Single(c => c.Id == "container-gpu-lines");
        Assert.Equal(CheckStatus.Fail, check.Status);
        var finding = Assert.Single(check.Findings!, f => f.Severity == FindingSeverity.Fail);
        Assert.Equal(("/etc/pve/lxc/110.conf", 10, "dev0: /dev/nvidia-modeset"), (finding.File, finding.Line, finding.Text));
        Assert.Contains("refuses to start", finding.Problem, StringComparison.Ordinal);
        Assert.Contains("nvidia-modprobe -m", finding.Fix, StringComparison.Ordinal);
        Assert.Contains("remove the `dev0` entry", finding.Fix, StringComparison.Ordinal);
        Assert.Contains("/etc/pve/lxc/110.conf line 10 `dev0: /dev/nvidia-modeset`", check.Detail, StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(check.Fix));
    }

    [Fact]
    public async Task TheOptionalRawMountOf111IsOnlyAWarningBecauseTheContainerStillStarts()
    {
        using var factory = new GpuLxcApiFactory(AfterReboot());

        var check = (await factory.CreateGpuLxcClient().GetDiagnosticsAsync()).Checks.Single(c => c.Id == "container-gpu-lines");

        var finding = Assert.Single(check.Findings!, f => f.File == "/etc/pve/lxc/111.conf");
        Assert.Equal((FindingSeverity.Warn, "lxc.mount.entry: /dev/nvidia-modeset dev/nvidia-modeset none bind,optional,create=file"), (finding.Severity, finding.Text));
        Assert.Contains("starts without the node", finding.Problem, StringComparison.Ordinal);
    }
}
