using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Cases;

/// <summary>
/// Issue 13, a passing case kept as a regression test: <c>kernel-update-uvm-major</c>. Source:
/// https://github.com/jammsen/proxmox-setup-scripts/issues/7 — after a Proxmox kernel update the GPU stopped working in
/// a Frigate container: each new kernel can give nvidia-uvm and nvidia-caps other majors, so hand-written cgroup lines
/// go stale. Here: PVE 9.1, RTX 3060 on 580.105.08; before the update uvm 511 and caps 510, after it 508 and 507.
/// </summary>
public sealed class KernelUpdateUvmMajorTests
{
    private const string Config101 = "/etc/pve/lxc/101.conf";

    private static HostTree Boot(HostTree host, uint uvm, uint caps) => host
        .WithProcDevices(uvm, caps)
        .WithoutNvidiaNodes()
        .WithNodes(uvm, 0)
        .WithCharDevice("/dev/nvidia-modeset", 195, 254)
        .WithCharDevice("/dev/nvidia-caps/nvidia-cap1", caps, 1, "400")
        .WithCharDevice("/dev/nvidia-caps/nvidia-cap2", caps, 2, "444");

    private static HostTree Before() => Boot(ReportHosts.Proxmox("9.1.1", "6.14.11-4-pve", "580.105.08")
            .WithNvidiaGpu("0000:01:00.0", "2504", 0, "NVIDIA GeForce RTX 3060")
            .WithDriverLoaded("580.105.08")
            .WithDirectory("/dev")
            .WithSmi("0, GPU-0000cafe-0000-4000-8000-000000000000, NVIDIA GeForce RTX 3060, 00000000:01:00.0, 580.105.08, 94.06.2F.00.9A, 0, 0, 0, 0")
            .WithContainer("101", ReportHosts.PlainContainer("101", "frigate", onboot: true), "running"),
        uvm: 511, caps: 510);

    [Fact]
    public async Task AfterAKernelUpdateDriftNamesBothMajorsAndThePutOfTheSameBodyMendsIt()
    {
        using var factory = new GpuLxcApiFactory(Before());
        var client = factory.CreateGpuLxcClient();
        var original = factory.Host.Bytes(Config101);
        await client.AttachGpuAsync("101", new AttachRequest { Mode = AttachmentMode.Raw });

        Boot(factory.Host.WithFile("/proc/sys/kernel/osrelease", "6.17.2-1-pve\n"), uvm: 508, caps: 507);
        var drifted = Assert.Single(await client.ListAttachmentsAsync());
        var mended = (await client.AttachGpuAsync("101", new AttachRequest { Mode = AttachmentMode.Raw })).Result;
        var after = Assert.Single(await client.ListAttachmentsAsync());
        var detached = (await client.DetachGpuAsync("101")).Result;

        Assert.Equal(DriftStatus.HostChanged, drifted.Drift.Status);
        Assert.Contains("/dev/nvidia-uvm 511:0", drifted.Drift.Detail, StringComparison.Ordinal);
        Assert.Contains("/dev/nvidia-uvm 508:0", drifted.Drift.Detail, StringComparison.Ordinal);
        Assert.Contains("/dev/nvidia-caps/nvidia-cap1 510:1", drifted.Drift.Detail, StringComparison.Ordinal);
        Assert.Contains("/dev/nvidia-caps/nvidia-cap1 507:1", drifted.Drift.Detail, StringComparison.Ordinal);
        Assert.Contains("PUT /api/v1/containers/101/gpu again with {", drifted.Drift.Fix, StringComparison.Ordinal);
        Assert.True(mended.Changed);
        Assert.Contains("lxc.cgroup2.devices.allow: c 507:* rwm", mended.Added);
        Assert.Contains("lxc.cgroup2.devices.allow: c 508:* rwm", mended.Added);
        Assert.Contains("lxc.cgroup2.devices.allow: c 510:* rwm", mended.Removed);
        Assert.Contains("lxc.cgroup2.devices.allow: c 511:* rwm", mended.Removed);
        Assert.Equal(DriftStatus.InSync, after.Drift.Status);
        Assert.True(detached.Changed);
        Assert.Equal(original, factory.Host.Bytes(Config101));
    }
}
