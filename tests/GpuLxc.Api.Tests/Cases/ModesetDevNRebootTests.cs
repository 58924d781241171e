using System.Text;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Cases;

/// <summary>
/// Issue 13, kind C (boot-time truth), case <c>modeset-devN-reboot</c>. Source:
/// https://github.com/remz1337/Proxmox/issues/8 — a Frigate container on PVE 8.2.4 stopped starting because its config
/// named /dev/nvidia-modeset, which the host did not have at start time. Proxmox stat()s every <c>devN:</c> path when it
/// starts a container; LXC skips an <c>optional</c> bind mount whose node is missing. Here: Quadro P2000 on 550.90.07,
/// uvm major 510; no udev rule or boot unit makes any node; containers 110 and 111.
/// </summary>
public sealed class ModesetDevNRebootTests
{
    private const string GpuLxcUdevRule = """
        ACTION=="add", KERNEL=="nvidia", RUN+="/usr/bin/nvidia-smi -L"
        ACTION=="add", KERNEL=="nvidia_uvm", RUN+="/usr/bin/nvidia-modprobe -c0 -u"
        ACTION=="add", KERNEL=="nvidia_modeset", RUN+="/usr/bin/nvidia-modprobe -c0 -m"

        """;

    /// <summary>The host before the reboot: /dev/nvidia-modeset exists because something ran <c>nvidia-modprobe -m</c> since boot.</summary>
    private static HostTree Before() => ReportHosts.Proxmox("8.2.4", "6.8.8-4-pve", "550.90.07")
        .WithNvidiaGpu("0000:01:00.0", "1c30", 0, "Quadro P2000")
        .WithDriverLoaded("550.90.07")
        .WithProcDevices(uvm: 510, caps: 511)
        .WithNodes(510, 0)
        .WithCharDevice("/dev/nvidia-modeset", 195, 254)
        .WithSmi("0, GPU-0000cafe-0000-4000-8000-000000000000, Quadro P2000, 00000000:01:00.0, 550.90.07, 86.06.3F.00.30, 0, 0, 0, 0")
        .WithContainer("110", ReportHosts.PlainContainer("110", "frigate", onboot: true))
        .WithContainer("111", ReportHosts.PlainContainer("111", "frigate-raw", onboot: true));

    [Fact]
    public async Task OnAHostThatRecreatesNothingFirstUseNodesBecomeOptionalMountsWithAWarning()
    {
        using var factory = new GpuLxcApiFactory(Before());

        var change = (await factory.CreateGpuLxcClient().AttachGpuAsync("110", new AttachRequest())).Result;

        var written = Encoding.UTF8.GetString(factory.Host.Bytes("/etc/pve/lxc/110.conf"));
        Assert.Equal(AttachmentMode.Dev, change.Attachment!.Mode);
        Assert.DoesNotMatch(@"(?m)^dev\d+: /dev/nvidia-modeset", written);
        Assert.DoesNotMatch(@"(?m)^dev\d+: /dev/nvidia-uvm-tools", written);
        Assert.Contains("lxc.mount.entry: /dev/nvidia-modeset dev/nvidia-modeset none bind,optional,create=file", change.Added);
        Assert.Contains("lxc.mount.entry: /dev/nvidia-uvm-tools dev/nvidia-uvm-tools none bind,optional,create=file", change.Added);
        Assert.Contains("lxc.cgroup2.devices.allow: c 195:254 rwm", change.Added);
        Assert.DoesNotContain("lxc.cgroup2.devices.allow: c 195:* rwm", change.Added);
        var modeset = change.Warnings.Single(w => w.Node == "/dev/nvidia-modeset");
        Assert.Contains("udev rule", modeset.Message, StringComparison.Ordinal);
        Assert.Contains("nvidia-modprobe -c0 -m", modeset.Fix, StringComparison.Ordinal);
        Assert.Contains("/etc/udev/rules.d/70-gpulxc-nvidia.rules", modeset.Fix, StringComparison.Ordinal);
        Assert.Contains(change.Warnings, w => w.Node == "/dev/nvidia-uvm-tools");
        // The container has no GPU without these: still devN entries, and the caller is told they are not recreated.
        Assert.Matches(@"(?m)^dev\d+: /dev/nvidiactl$", written);
        Assert.Contains(change.Warnings, w => w.Node == "/dev/nvidiactl" && w.Message.Contains("refuses to start", StringComparison.Ordinal));
    }

    [Fact]
    public async Task WithGpuLxcsUdevRuleEveryNodeIsADevEntryAndNothingWarns()
    {
        using var factory = new GpuLxcApiFactory(Before().WithFile("/etc/udev/rules.d/70-gpulxc-nvidia.rules", GpuLxcUdevRule));

        var change = (await factory.CreateGpuLxcClient().AttachGpuAsync("110", new AttachRequest())).Result;

        Assert.Empty(change.Warnings);
        Assert.All(change.Added, line => Assert.Matches(@"^dev\d+: ", line));
        Assert.Contains(change.Added, line => line.EndsWith(": /dev/nvidia-modeset", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AfterARebootADevEntryForAMissingNodeIsToldApartFromAnOptionalMount()
    {
        using var factory = new GpuLxcApiFactory(Before().WithFile("/etc/udev/rules.d/70-gpulxc-nvidia.rules", GpuLxcUdevRule));
        var client = factory.CreateGpuLxcClient();
        await client.AttachGpuAsync("110", new AttachRequest());
        await client.AttachGpuAsync("111", new AttachRequest { Mode = AttachmentMode.Raw });

        // The rule went with a package purge; the host reboots, nvidia_modeset loads, nothing makes its node.
        factory.Host.Without("/etc/udev/rules.d/70-gpulxc-nvidia.rules").Without("/dev/nvidia-modeset");
        var attachments = (await client.ListAttachmentsAsync()).ToDictionary(a => a.ContainerId);

        var dev = attachments["110"].Drift;
        Assert.Equal(DriftStatus.NodesMissing, dev.Status);
        Assert.Contains("Proxmox will not start container 110", dev.Detail, StringComparison.Ordinal);
        Assert.Matches(@"dev\d+: /dev/nvidia-modeset", dev.Detail);
        Assert.Contains("nvidia-modprobe -c0 -m", dev.Fix, StringComparison.Ordinal);
        var raw = attachments["111"].Drift;
        Assert.Equal(DriftStatus.InSync, raw.Status);
        Assert.Contains("/dev/nvidia-modeset is absent now", raw.Detail, StringComparison.Ordinal);
        Assert.Contains("starts without it", raw.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task APutAfterTheRebootDropsTheDanglingDevEntryForAnOptionalMount()
    {
        using var factory = new GpuLxcApiFactory(Before().WithFile("/etc/udev/rules.d/70-gpulxc-nvidia.rules", GpuLxcUdevRule));
        var client = factory.CreateGpuLxcClient();
        await client.AttachGpuAsync("110", new AttachRequest());
        factory.Host.Without("/etc/udev/rules.d/70-gpulxc-nvidia.rules").Without("/dev/nvidia-modeset");

        var mended = (await client.AttachGpuAsync("110", new AttachRequest())).Result;

        Assert.Contains(mended.Removed, line => line.EndsWith(": /dev/nvidia-modeset", StringComparison.Ordinal));
        Assert.DoesNotMatch(@"(?m)^dev\d+: /dev/nvidia-modeset", Encoding.UTF8.GetString(factory.Host.Bytes("/etc/pve/lxc/110.conf")));
        Assert.NotEqual(DriftStatus.NodesMissing, (await client.GetAttachmentAsync("110")).Result.Drift.Status);
    }
}
