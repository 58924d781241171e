using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Cases;

/// <summary>
/// Issue 13, a passing case kept as a regression test: <c>second-gpu-shared-nodes</c>. Source:
/// https://github.com/canonical/lxd/issues/8385 — giving a container its second NVIDIA GPU failed because the shared
/// nvidia-caps nodes were passed once per GPU. Here: plain LXC, two RTX 3090 whose driver minors do not follow PCI
/// order (0000:01:00.0 is minor 1, 0000:02:00.0 minor 0), uvm 507, caps 506; container "trainer" with an include,
/// comments and blank lines in its config.
/// </summary>
public sealed class SecondGpuSharedNodesTests
{
    private const string Config = "/var/lib/lxc/trainer/config";

    private const string TrainerConfig = """
        # Template used: download (debian bookworm amd64)
        lxc.include = /usr/share/lxc/config/common.conf
        lxc.arch = linux64

        # Container specific configuration
        lxc.rootfs.path = dir:/var/lib/lxc/trainer/rootfs
        lxc.uts.name = trainer

        # Network configuration
        lxc.net.0.type = veth
        lxc.net.0.link = lxcbr0
        lxc.net.0.flags = up
        lxc.net.0.hwaddr = 00:16:3e:00:00:42

        """;

    private static GpuLxcApiFactory Service()
    {
        var host = ReportHosts.Proxmox("8.2.4", "6.1.0-28-amd64", "550.127.05")
            .Without("/etc/pve")
            .WithNvidiaGpu("0000:01:00.0", "2204", 1, "NVIDIA GeForce RTX 3090")
            .WithNvidiaGpu("0000:02:00.0", "2204", 0, "NVIDIA GeForce RTX 3090")
            .WithDriverLoaded("550.127.05")
            .WithProcDevices(507, 506)
            .WithNodes(507, 0, 1)
            .WithCharDevice("/dev/nvidia-modeset", 195, 254)
            .WithCharDevice("/dev/nvidia-caps/nvidia-cap1", 506, 1, "400")
            .WithCharDevice("/dev/nvidia-caps/nvidia-cap2", 506, 2, "444")
            .WithSmi(
                "0, GPU-0000cafe-0000-4000-8000-000000000001, NVIDIA GeForce RTX 3090, 00000000:01:00.0, 550.127.05, 94.02.42.00.A9, 0, 0, 0, 0",
                "1, GPU-0000cafe-0000-4000-8000-000000000000, NVIDIA GeForce RTX 3090, 00000000:02:00.0, 550.127.05, 94.02.42.00.A9, 0, 0, 0, 0")
            .WithFile(Config, TrainerConfig.Replace("\r\n", "\n", StringComparison.Ordinal))
            .WithCommand("lxc-ls", "echo 'NAME    STATE'; echo 'trainer STOPPED'")
            .WithCommand("lxc-info", "echo STOPPED");
        var factory = new GpuLxcApiFactory(host);
        factory.Settings["GpuLxc:Host:Backend"] = "lxc";
        return factory;
    }

    [Fact]
    public async Task PerGpuRulesForOneGpuTheWholeMajorForBothAndSharedNodesOnce()
    {
        using var factory = Service();
        var client = factory.CreateGpuLxcClient();
        var original = factory.Host.Bytes(Config);

        var gpus = (await client.ListGpusAsync(null)).Gpus;
        var one = (await client.AttachGpuAsync("trainer", new AttachRequest { Gpus = ["0000:02:00.0"] })).Result;
        var both = (await client.AttachGpuAsync("trainer", new AttachRequest { Gpus = ["0000:01:00.0", "0000:02:00.0"] })).Result;
        var again = (await client.AttachGpuAsync("trainer", new AttachRequest { Gpus = ["0000:01:00.0", "0000:02:00.0"] })).Result;
        var text = File.ReadAllText(factory.Host.PathOf(Config));
        var detached = (await client.DetachGpuAsync("trainer")).Result;

        Assert.Equal(1, gpus.Single(g => g.PciAddress == "0000:01:00.0").Minor);
        Assert.Equal(0, gpus.Single(g => g.PciAddress == "0000:02:00.0").Minor);
        Assert.Contains("lxc.cgroup2.devices.allow = c 195:0 rwm", one.Added);
        Assert.Contains("lxc.cgroup2.devices.allow = c 195:255 rwm", one.Added);
        Assert.DoesNotContain("lxc.cgroup2.devices.allow = c 195:* rwm", one.Added);
        Assert.DoesNotContain(one.Added, line => line.Contains("/dev/nvidia1", StringComparison.Ordinal));
        Assert.Contains("lxc.cgroup2.devices.allow = c 195:* rwm", both.Added);
        Assert.Contains(both.Added, line => line.Contains("/dev/nvidia1 ", StringComparison.Ordinal));
        Assert.Contains("lxc.cgroup2.devices.allow = c 195:0 rwm", both.Removed);
        var settings = text.Split('\n').Where(l => l.StartsWith("lxc.cgroup2", StringComparison.Ordinal) || l.StartsWith("lxc.mount.entry = /dev/nvidia", StringComparison.Ordinal)).ToList();
        Assert.Equal(settings.Count, settings.Distinct(StringComparer.Ordinal).Count());
        Assert.Single(settings, l => l.Contains("/dev/nvidiactl ", StringComparison.Ordinal));
        Assert.Single(settings, l => l.Contains("/dev/nvidia-uvm ", StringComparison.Ordinal));
        Assert.Single(settings, l => l.Contains("/dev/nvidia-caps/nvidia-cap1 ", StringComparison.Ordinal));
        Assert.False(again.Changed);
        Assert.True(detached.Changed);
        Assert.Equal(original, factory.Host.Bytes(Config));
    }
}
