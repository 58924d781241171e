using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Cases;

/// <summary>
/// Issue 13, kind C, a public report reduced to a fixture. Source: https://github.com/NVIDIA/k8s-device-plugin/issues/222
/// ("When the server restarts, container had no permission to access nvidia-uvm/nvidia-uvm-tools/nvidia-modeset
/// device") — after a reboot those three nodes did not exist when the containers came up; the workaround posted there
/// is a udev rule on the nvidia module's add event running <c>nvidia-modprobe -m</c> and <c>nvidia-modprobe -u -c 1</c>
/// (options apart, a minor of 1). A host with that rule recreates modeset, both uvm nodes, nvidiactl and nvidia1 at
/// boot, so every one of them may be a <c>devN</c> entry.
/// </summary>
public sealed class ModuleEventUdevRuleTests
{
    private const string Rule = """
        # Load and unload nvidia-modeset module
        SUBSYSTEM=="module", ACTION=="add", DEVPATH=="/module/nvidia", RUN+="/usr/bin/nvidia-modprobe -m"
        # Load and unload nvidia-uvm module
        SUBSYSTEM=="module", ACTION=="add", DEVPATH=="/module/nvidia", RUN+="/usr/bin/nvidia-modprobe -u -c 1"

        """;

    [Fact]
    public async Task NodesTheRuleRecreatesAreDevEntriesWithoutWarnings()
    {
        using var factory = new GpuLxcApiFactory(ReportHosts.Proxmox("8.2.7", "6.8.12-4-pve", "550.127.05")
            .WithNvidiaGpu("0000:3b:00.0", "1eb8", 1, "Tesla T4")
            .WithDriverLoaded("550.127.05")
            .WithProcDevices(uvm: 508, caps: 509)
            .WithFile("/etc/udev/rules.d/71-nvidia.rules", Rule)
            .WithNodes(508, 1)
            .WithCharDevice("/dev/nvidia-modeset", 195, 254)
            .WithSmi("0, GPU-0000cafe-0000-4000-8000-000000000001, Tesla T4, 00000000:3B:00.0, 550.127.05, 90.04.38.00.03, 0, 0, 0, 0")
            .WithContainer("150", ReportHosts.PlainContainer("150", "inference")));

        var change = (await factory.CreateGpuLxcClient().AttachGpuAsync("150", new AttachRequest())).Result;

        Assert.Empty(change.Warnings);
        Assert.Equal(["/dev/nvidia-modeset", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia1", "/dev/nvidiactl"],
            change.Added.Select(line => line.Split(": ", 2)[1]).Order(StringComparer.Ordinal));
        Assert.All(change.Added, line => Assert.Matches(@"^dev\d+: ", line));
    }
}
