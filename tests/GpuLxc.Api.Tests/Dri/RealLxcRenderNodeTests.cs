using System.Diagnostics;
using System.Globalization;
using GpuLxc.Api.Tests.Containers;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Dri;

/// <summary>
/// Raw-mode DRM lines proven in a real LXC container: the bind mount's source is the by-path link, and LXC binds the
/// node the link points to. Stand-in nodes in the real /dev (the machine must have no /dev/dri and no NVIDIA nodes):
/// the NVIDIA GPU's card0/renderD128 and the iGPU's card1/renderD129, so that the iGPU's link and the first card differ.
/// </summary>
[Collection(nameof(RealLxcTests))]
public sealed class RealLxcRenderNodeTests : IDisposable
{
    private readonly string _name = $"{Environment.GetEnvironmentVariable("GPULXC_REAL_LXC_PREFIX") ?? "gpulxc-ci-"}{Guid.NewGuid().ToString("N")[..8]}";
    private readonly HostTree _tree = new();
    private readonly bool _cgroup2 = File.Exists("/sys/fs/cgroup/cgroup.controllers");
    private readonly List<string> _standIns = [];

    public RealLxcRenderNodeTests()
    {
        if (Prerequisites.Missing(Prerequisite.RealLxc) is not null)
        {
            return;
        }

        Require(!Directory.Exists("/dev/dri") && !Directory.EnumerateFileSystemEntries("/dev", "nvidia*").Any(),
            "this machine has /dev/dri or NVIDIA nodes already; the stand-in nodes need a host without them");
        var used = File.ReadAllLines("/proc/devices").Select(l => l.Trim().Split(' ')[0]).ToHashSet();
        var uvm = Enumerable.Range(500, 12).Select(m => (uint)m).First(m => !used.Contains(m.ToString(CultureInfo.InvariantCulture)));
        StandIn("/dev/nvidia0", 195, 0);
        StandIn("/dev/nvidiactl", 195, 255);
        StandIn("/dev/nvidia-uvm", uvm, 0);
        Directory.CreateDirectory("/dev/dri/by-path");
        StandIn("/dev/dri/card0", 226, 0);
        StandIn("/dev/dri/renderD128", 226, 128);
        StandIn("/dev/dri/card1", 226, 1);
        StandIn("/dev/dri/renderD129", 226, 129);
        File.CreateSymbolicLink($"/dev/dri/by-path/pci-{IgpuHosts.Nvidia}-card", "../card0");
        File.CreateSymbolicLink($"/dev/dri/by-path/pci-{IgpuHosts.Nvidia}-render", "../renderD128");
        File.CreateSymbolicLink($"/dev/dri/by-path/pci-{IgpuHosts.Igpu}-card", "../card1");
        File.CreateSymbolicLink($"/dev/dri/by-path/pci-{IgpuHosts.Igpu}-render", "../renderD129");

        _tree.WithSymlink("/dev", "/dev").WithSymlink("/run", "/run").WithSymlink("/var", "/var").WithSymlink("/sys/fs/cgroup", "/sys/fs/cgroup")
            .WithPciGpu(IgpuHosts.Nvidia, "2504", "nvidia")
            .WithDirectory($"/sys/bus/pci/devices/{IgpuHosts.Nvidia}/drm/card0").WithDirectory($"/sys/bus/pci/devices/{IgpuHosts.Nvidia}/drm/renderD128")
            .WithFile($"/sys/bus/pci/devices/{IgpuHosts.Igpu}/vendor", "0x8086\n")
            .WithFile($"/sys/bus/pci/devices/{IgpuHosts.Igpu}/device", "0xa780\n")
            .WithFile($"/sys/bus/pci/devices/{IgpuHosts.Igpu}/class", "0x030000\n")
            .WithSymlink($"/sys/bus/pci/devices/{IgpuHosts.Igpu}/driver", "../../../bus/pci/drivers/i915")
            .WithDirectory($"/sys/bus/pci/devices/{IgpuHosts.Igpu}/drm/card1").WithDirectory($"/sys/bus/pci/devices/{IgpuHosts.Igpu}/drm/renderD129")
            .WithFile("/proc/driver/nvidia/version", "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.127.05  Tue Oct  8 03:22:07 UTC 2024\n")
            .WithFile($"/proc/driver/nvidia/gpus/{IgpuHosts.Nvidia}/information", "Model: \t\t NVIDIA GeForce RTX 3060\nDevice Minor: \t 0\n")
            .WithFile("/proc/devices", $"Character devices:\n  1 mem\n195 nvidia-frontend\n226 drm\n{uvm} nvidia-uvm\n\nBlock devices:\n  7 loop\n");

        HostTree.Run("lxc-create", "-n", _name, "-t", "busybox");
        var allow = _cgroup2 ? "lxc.cgroup2.devices" : "lxc.cgroup.devices";
        File.WriteAllText($"/var/lib/lxc/{_name}/config", $"""
            lxc.rootfs.path = dir:/var/lib/lxc/{_name}/rootfs
            lxc.uts.name = {_name}
            lxc.net.0.type = empty
            lxc.apparmor.profile = unconfined
            lxc.signal.halt = SIGUSR1
            lxc.autodev = 1
            lxc.tty.max = 1
            lxc.pty.max = 1
            lxc.mount.auto = cgroup:mixed proc:mixed sys:ro
            lxc.mount.entry = /lib lib none ro,bind 0 0
            lxc.mount.entry = /usr/lib usr/lib none ro,bind 0 0
            lxc.mount.entry = /lib64 lib64 none ro,bind,optional 0 0
            {allow}.deny = a
            {allow}.allow = c 1:3 rwm
            {allow}.allow = c 5:0 rwm
            {allow}.allow = c 136:* rwm

            """);
    }

    public void Dispose()
    {
        RunQuietly("lxc-stop", "-n", _name, "-k");
        RunQuietly("lxc-destroy", "-n", _name, "-f");
        foreach (var node in _standIns)
        {
            File.Delete(node);
        }

        if (_standIns.Count > 0 && Directory.Exists("/dev/dri"))
        {
            Directory.Delete("/dev/dri", recursive: true);
        }

        _tree.Dispose();
    }

    [RequiresFact(Prerequisite.RealLxc)]
    public async Task TheIgpusByPathLinkBindsItsOwnRenderNodeInsideAsRenderD128()
    {
        using var factory = new GpuLxcApiFactory(_tree);
        factory.Settings["GpuLxc:Host:Backend"] = "lxc";
        factory.Settings["GpuLxc:Host:BinPath"] = "";

        var attached = (await factory.CreateGpuLxcClient().AttachGpuAsync(_name, new AttachRequest { Drm = [IgpuHosts.Igpu] })).Result;
        HostTree.Run("lxc-start", "-n", _name);
        WaitRunning();

        Assert.Contains($"lxc.mount.entry = /dev/dri/by-path/pci-{IgpuHosts.Igpu}-render dev/dri/renderD128 none bind,optional,create=file", attached.Added);
        // 226:129 (hex e2:81) is the iGPU's stand-in; the host's renderD128 (e2:80) is the NVIDIA GPU's.
        Assert.Equal("e2:81", Inside("/bin/busybox stat -c %t:%T /dev/dri/renderD128").Trim());
        Assert.Equal("e2:1", Inside("/bin/busybox stat -c %t:%T /dev/dri/card0").Trim());
        // The device rule lets it through to a driver that is not there: ENXIO, not EPERM.
        Assert.Contains("No such device or address", Inside("cat /dev/dri/renderD128"), StringComparison.Ordinal);
    }

    private string Inside(string script) => RealLxc.Inside(_name, script);

    private void WaitRunning() => RealLxc.WaitRunning(_name);

    private void StandIn(string path, uint major, uint minor)
    {
        HostTree.Run("mknod", "-m", "666", path, "c", major.ToString(CultureInfo.InvariantCulture), minor.ToString(CultureInfo.InvariantCulture));
        _standIns.Add(path);
    }

    private static void RunQuietly(string program, params string[] arguments) => RealLxc.RunQuietly(program, arguments);

    private static void Require(bool condition, string what) => RealLxc.Require(condition, what);
}
