using System.Text;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Cases;

/// <summary>
/// Issue 13, a passing case kept as a regression test: <c>snapshot-append</c>. Source:
/// https://github.com/tteck/Proxmox/issues/2230 — a script appended its lxc.* lines to the end of a container's config;
/// with snapshots the end of the file is the last snapshot's section, so the lines never applied. Here: PVE 8.2, RTX
/// A2000 on 550.127.05; container 170 (unprivileged) with a description and two snapshots, the older one holding a
/// cgroup v1 device line.
/// </summary>
public sealed class SnapshotAppendTests
{
    private const string Config170 = "/etc/pve/lxc/170.conf";

    private const string Main = """
        #media server
        arch: amd64
        cores: 2
        features: nesting=1
        hostname: media
        memory: 2048
        net0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:01:70,ip=dhcp,type=veth
        ostype: debian
        parent: before-upgrade
        rootfs: local-lvm:vm-170-disk-0,size=8G
        swap: 512
        unprivileged: 1


        """;

    private const string Snapshots = """
        [before-gpu]
        arch: amd64
        cores: 2
        features: nesting=1
        hostname: media
        memory: 2048
        net0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:01:70,ip=dhcp,type=veth
        ostype: debian
        rootfs: local-lvm:vm-170-disk-0,size=8G
        snaptime: 1735000000
        swap: 512
        unprivileged: 1
        lxc.cgroup.devices.allow: c 195:* rwm

        [before-upgrade]
        arch: amd64
        cores: 2
        features: nesting=1
        hostname: media
        memory: 2048
        net0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:01:70,ip=dhcp,type=veth
        ostype: debian
        parent: before-gpu
        rootfs: local-lvm:vm-170-disk-0,size=8G
        snaptime: 1736000000
        swap: 512
        unprivileged: 1

        """;

    private static HostTree Host() => ReportHosts.Proxmox("8.2.7", "6.8.12-4-pve", "550.127.05")
        .WithNvidiaGpu("0000:41:00.0", "2531", 0, "NVIDIA RTX A2000")
        .WithDriverLoaded("550.127.05")
        .WithProcDevices(uvm: 508, caps: 509)
        .WithNodes(508, 0)
        .WithSmi("0, GPU-0000cafe-0000-4000-8000-000000000000, NVIDIA RTX A2000, 00000000:41:00.0, 550.127.05, 94.06.1D.00.2D, 0, 0, 0, 0")
        .WithContainer("170", Main + Snapshots);

    [Theory]
    [InlineData(AttachmentMode.Dev)]
    [InlineData(AttachmentMode.Raw)]
    public async Task AttachingWritesOnlyIntoTheMainSectionAndDetachingRestoresTheFile(AttachmentMode mode)
    {
        using var factory = new GpuLxcApiFactory(Host());
        var client = factory.CreateGpuLxcClient();
        var original = factory.Host.Bytes(Config170);

        var cgroupKeys = (await client.GetDiagnosticsAsync()).Checks.Single(c => c.Id == "cgroup-keys");
        await client.AttachGpuAsync("170", new AttachRequest { Mode = mode });
        var written = Encoding.UTF8.GetString(factory.Host.Bytes(Config170));
        await client.DetachGpuAsync("170");

        Assert.Equal(CheckStatus.Pass, cgroupKeys.Status);
        Assert.EndsWith("\n\n" + Snapshots, written, StringComparison.Ordinal);
        Assert.StartsWith("#media server\narch: amd64\ncores: 2\n", written, StringComparison.Ordinal);
        Assert.Contains(mode == AttachmentMode.Dev ? "dev0: /dev/nvidia0,mode=0666" : "lxc.cgroup2.devices.allow: c 508:* rwm", written[..written.IndexOf("[before-gpu]", StringComparison.Ordinal)], StringComparison.Ordinal);
        Assert.Equal(original, factory.Host.Bytes(Config170));
    }
}
