using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Cases;

/// <summary>
/// A public report reduced to a host: https://github.com/NVIDIA/enroot/issues/106. In short: a GPU host worked until
/// a reboot; then its containers could not find /dev/nvidia-modeset and nvidia-uvm was not loaded, because both had
/// only ever been created by a one-off GPU container run during setup, and nothing created them at boot. Here the same
/// host state meets a Proxmox container set up by hand (not by GpuLxc) with a bind mount of /dev/nvidia-modeset that
/// is not <c>optional</c>, and an allow rule with a uvm major from another host: the audit names both lines, and an
/// attach that takes the container over says it left them.
/// </summary>
public sealed class HandMadeModesetMountAfterRebootTests
{
    private const string Config = """
        arch: amd64
        cores: 8
        hostname: slurm-node
        memory: 32768
        ostype: ubuntu
        rootfs: local-lvm:vm-130-disk-0,size=64G
        lxc.cgroup2.devices.allow: c 195:* rwm
        lxc.cgroup2.devices.allow: c 511:* rwm
        lxc.mount.entry: /dev/nvidia0 dev/nvidia0 none bind,optional,create=file
        lxc.mount.entry: /dev/nvidiactl dev/nvidiactl none bind,optional,create=file
        lxc.mount.entry: /dev/nvidia-modeset dev/nvidia-modeset none bind,create=file

        """;

    /// <summary>After the reboot: an A100-class host on 470.57.02 (uvm major 508), nvidia-modeset and nvidia-uvm not recreated.</summary>
    private static HostTree AfterReboot() => PveCaseHost.Create("8.2.4", "6.8.12-4-pve", "0000:41:00.0", "20b0", "NVIDIA A100-SXM4-40GB", "470.57.02", 508, 509)
        .WithCharDevice("/dev/nvidia0", 195, 0)
        .WithCharDevice("/dev/nvidiactl", 195, 255)
        .WithContainer("130", Config);

    [Fact]
    public async Task TheHandMadeSetupsBrokenLinesAreEachAFindingWithTheirLine()
    {
        using var factory = new GpuLxcApiFactory(AfterReboot());

        var check = (await factory.CreateGpuLxcClient().GetDiagnosticsAsync()).Checks.Single(c => c.Id == "container-gpu-lines");

        Assert.Equal(CheckStatus.Fail, check.Status);
        var findings = check.Findings!.Select(f => (f.File, f.Line, f.Severity)).ToList();
        Assert.Equal([("/etc/pve/lxc/130.conf", 8, FindingSeverity.Fail), ("/etc/pve/lxc/130.conf", 11, FindingSeverity.Fail)], findings);
        Assert.Contains("No driver has character major 511", check.Findings!.ElementAt(0).Problem, StringComparison.Ordinal);
        Assert.Contains("lxc.cgroup2.devices.allow: c 508:* rwm", check.Findings!.ElementAt(0).Fix, StringComparison.Ordinal);
        Assert.Contains("not optional: LXC fails to start the container", check.Findings!.ElementAt(1).Problem, StringComparison.Ordinal);
        Assert.Contains("nvidia-modprobe -m", check.Findings!.ElementAt(1).Fix, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnAttachThatTakesTheContainerOverSaysWhichStaleLinesItLeft()
    {
        var host = AfterReboot().WithCharDevice("/dev/nvidia-uvm", 508, 0);
        using var factory = new GpuLxcApiFactory(host);

        var change = (await factory.CreateGpuLxcClient().AttachGpuAsync("130", new AttachRequest { Mode = AttachmentMode.Raw })).Result;

        Assert.Contains("lxc.cgroup2.devices.allow: c 508:* rwm", change.Added);
        var stale = change.HandMadeLines!.Where(l => l.Stale).Select(l => l.Text).ToList();
        Assert.Equal(["lxc.cgroup2.devices.allow: c 511:* rwm", "lxc.mount.entry: /dev/nvidia-modeset dev/nvidia-modeset none bind,create=file"], stale);
        Assert.All(change.HandMadeLines!.Where(l => l.Stale), l => Assert.False(string.IsNullOrEmpty(l.Fix)));
        Assert.DoesNotContain(change.HandMadeLines!, l => l.Text == "lxc.cgroup2.devices.allow: c 195:* rwm");
        Assert.Contains("lxc.cgroup2.devices.allow: c 511:* rwm", File.ReadAllText(host.PathOf("/etc/pve/lxc/130.conf")), StringComparison.Ordinal);
    }
}
