using System.Text;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Cases;

/// <summary>
/// Issue 13, kind C, a public report reduced to a fixture. Source: https://github.com/NVIDIA/nvidia-docker/issues/288
/// ("Cannot (re)start a container after rebooting the host OS") — containers created while /dev/nvidia-uvm-tools
/// existed would not start after a host reboot: the runtime looked the node up at start and it was not there until
/// something used CUDA again; a fresh container run first made it come back. The same holds for a Proxmox
/// <c>devN:</c> entry. Here: a PVE 8.2 host whose only udev rule runs <c>nvidia-smi -L</c> when nvidia loads (it makes
/// nvidiactl and nvidia0 at boot, not the uvm nodes); CUDA ran since boot, so both uvm nodes exist now.
/// </summary>
public sealed class UvmToolsGoneAfterRebootTests
{
    private static HostTree Host() => ReportHosts.Proxmox("8.2.7", "6.8.12-4-pve", "550.127.05")
        .WithNvidiaGpu("0000:01:00.0", "2204", 0, "NVIDIA GeForce RTX 3090")
        .WithDriverLoaded("550.127.05")
        .WithProcDevices(uvm: 508, caps: 509)
        .WithFile("/etc/udev/rules.d/70-nvidia.rules", "KERNEL==\"nvidia\", RUN+=\"/usr/bin/nvidia-smi -L\"\n")
        .WithNodes(508, 0)
        .WithSmi("0, GPU-0000cafe-0000-4000-8000-000000000000, NVIDIA GeForce RTX 3090, 00000000:01:00.0, 550.127.05, 94.02.42.00.A9, 0, 0, 0, 0")
        .WithContainer("120", ReportHosts.PlainContainer("120", "cuda"));

    [Fact]
    public async Task TheUvmNodesAreOptionalMountsSoThatARebootDoesNotStopTheContainer()
    {
        using var factory = new GpuLxcApiFactory(Host());
        var client = factory.CreateGpuLxcClient();

        var change = (await client.AttachGpuAsync("120", new AttachRequest())).Result;
        factory.Host.Without("/dev/nvidia-uvm").Without("/dev/nvidia-uvm-tools");
        var drift = (await client.GetAttachmentAsync("120")).Result.Drift;

        var written = Encoding.UTF8.GetString(factory.Host.Bytes("/etc/pve/lxc/120.conf"));
        Assert.Matches(@"(?m)^dev\d+: /dev/nvidia0$", written);
        Assert.DoesNotMatch(@"(?m)^dev\d+: /dev/nvidia-uvm", written);
        Assert.Contains("lxc.mount.entry: /dev/nvidia-uvm-tools dev/nvidia-uvm-tools none bind,optional,create=file", written, StringComparison.Ordinal);
        Assert.Equal(["/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"], change.Warnings.Select(w => w.Node).Order(StringComparer.Ordinal));
        Assert.All(change.Warnings, w => Assert.Contains("nvidia-modprobe -c0 -u", w.Fix, StringComparison.Ordinal));
        // After the reboot the container starts, but CUDA needs /dev/nvidia-uvm: that is still drift, not "will not start".
        Assert.Equal(DriftStatus.NodesMissing, drift.Status);
        Assert.Contains("/dev/nvidia-uvm", drift.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("will not start", drift.Detail, StringComparison.Ordinal);
    }
}
