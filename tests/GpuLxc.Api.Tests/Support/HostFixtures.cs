using System.Text.RegularExpressions;

namespace GpuLxc.Api.Tests.Support;

/// <summary>The hosts the inventory is tested on, as directory trees with real device nodes.</summary>
public static partial class HostFixtures
{
    public const string SeedUuid = "GPU-5e0f4a2c-1b6e-3f7d-9a8b-0c1d2e3f4a5b";
    public const string H100Uuid = "GPU-46a4012c-1313-b398-522d-4d20fa41674c";

    /// <summary>
    /// The host of the manual procedure: Proxmox VE 6 (cgroup v1), a GeForce GTX 760, the proprietary 418.152.00
    /// driver with nvidia-uvm on major 243, nvidia-modeset present, modules-load.d and the udev rule in place.
    /// NVML is unavailable in tests, so nvidia-smi (a stub printing what the real one prints) fills in the rest.
    /// </summary>
    public static HostTree Seed() => new HostTree()
        .WithFile("/proc/sys/kernel/hostname", "pve\n")
        .WithFile("/proc/sys/kernel/osrelease", "5.4.78-2-pve\n")
        .WithFile("/etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 10 (buster)\"\nID=debian\nVERSION_ID=\"10\"\nVERSION_CODENAME=buster\n")
        .WithDirectory("/sys/fs/cgroup/devices")
        .WithDirectory("/etc/pve/lxc")
        .WithDirectory("/lib/modules/5.4.78-2-pve/build")
        .WithPciGpu("0000:03:00.0", "1187", "nvidia", subsystem: "0x1462:0x2843")
        .WithFile("/proc/driver/nvidia/version",
            "NVRM version: NVIDIA UNIX x86_64 Kernel Module  418.152.00  Thu May  7 20:44:36 CDT 2020\nGCC version:  gcc version 8.3.0 (Debian 8.3.0-6) \n")
        .WithFile("/sys/module/nvidia/version", "418.152.00\n")
        .WithFile("/proc/driver/nvidia/gpus/0000:03:00.0/information",
            $"Model: \t\t GeForce GTX 760\nIRQ:   \t\t 33\nGPU UUID: \t {SeedUuid}\nVideo BIOS: \t 80.04.c3.00.0f\nBus Type: \t PCIe\nDMA Size: \t 40 bits\nDMA Mask: \t 0xffffffffff\nBus Location: \t 0000:03:00.0\nDevice Minor: \t 0\n")
        .WithFile("/proc/devices", "Character devices:\n  1 mem\n  4 tty\n195 nvidia-frontend\n243 nvidia-uvm\n\nBlock devices:\n  8 sd\n")
        .WithFile("/proc/modules",
            "nvidia_uvm 1011712 0 - Live 0x0000000000000000 (POE)\nnvidia_drm 53248 0 - Live 0x0000000000000000 (POE)\n" +
            "nvidia_modeset 1118208 1 nvidia_drm, Live 0x0000000000000000 (POE)\nnvidia 19718144 2 nvidia_uvm,nvidia_modeset, Live 0x0000000000000000 (POE)\n")
        .WithFile("/etc/modules-load.d/modules.conf", "# Nvidia modules\nnvidia\nnvidia_uvm\n")
        .WithFile("/etc/udev/rules.d/70-nvidia.rules",
            "KERNEL==\"nvidia\", RUN+=\"/bin/bash -c '/usr/bin/nvidia-smi -L && /bin/chmod 666 /dev/nvidia*'\"\n" +
            "KERNEL==\"nvidia_uvm\", RUN+=\"/bin/bash -c '/usr/bin/nvidia-modprobe -c0 -u && /bin/chmod 0666 /dev/nvidia-uvm*'\"\n")
        .WithCharDevice("/dev/nvidia0", 195, 0)
        .WithCharDevice("/dev/nvidiactl", 195, 255)
        .WithCharDevice("/dev/nvidia-modeset", 195, 254)
        .WithCharDevice("/dev/nvidia-uvm", 243, 0)
        .WithCharDevice("/dev/nvidia-uvm-tools", 243, 1)
        .WithCommand("modinfo", "[ \"$2\" = version ] && echo 418.152.00; exit 0")
        .WithCommand("nvidia-modprobe", "exit 0")
        .WithCommand("nvidia-smi",
            $"echo '0, {SeedUuid}, GeForce GTX 760, 00000000:03:00.0, 418.152.00, 80.04.C3.00.0F, 1, 59, 1830, 7'");

    /// <summary>The H100 host, built from the capture: its procfs files verbatim, its sysfs entry and device nodes as listed.</summary>
    public static HostTree H100()
    {
        var tree = new HostTree()
            .WithFile("/proc/sys/kernel/hostname", "vm\n")
            .WithFile("/proc/sys/kernel/osrelease", "6.18.44-fc-v657-gpu\n")
            .WithFile("/etc/os-release", Captures.H100Section("os-release"))
            .WithFile("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids\n")
            .WithFile("/proc/devices", Captures.H100Section("/proc/devices"))
            .WithFile("/proc/driver/nvidia/version", Captures.H100Section("/proc/driver/nvidia/version"))
            .WithFile("/proc/modules", Captures.H100Section("lsmod"))
            .WithFile("/sys/module/nvidia/version", "580.159.04\n");

        var information = Captures.H100Section("/proc/driver/nvidia/gpus").Split('\n').Skip(1);
        tree.WithFile("/proc/driver/nvidia/gpus/0000:00:06.0/information", string.Join('\n', information));

        var pci = PciLinePattern().Match(Captures.H100Section("sys pci"));
        tree.WithPciGpu(pci.Groups["address"].Value, pci.Groups["device"].Value, pci.Groups["driver"].Value,
            pci.Groups["class"].Value, pci.Groups["subsys"].Value);

        foreach (Match node in NodeLinePattern().Matches(Captures.H100Section("ls -l /dev/nvidia*")))
        {
            var path = node.Groups["path"].Value.StartsWith('/') ? node.Groups["path"].Value : $"/dev/nvidia-caps/{node.Groups["path"].Value}";
            tree.WithCharDevice(path, uint.Parse(node.Groups["major"].Value, System.Globalization.CultureInfo.InvariantCulture),
                uint.Parse(node.Groups["minor"].Value, System.Globalization.CultureInfo.InvariantCulture), Mode(node.Groups["perm"].Value));
        }

        return tree;
    }

    /// <summary>
    /// <see cref="H100"/> with its driver's userspace laid out as the capture's loader cache and <c>which</c> show it:
    /// each library the cache lists under <c>/usr/local/nvidia/lib64</c> as <c>NAME.so.580.159.04</c> with its
    /// <c>.so.1</c> and <c>.so</c> links, a second <c>.so.1</c> link in <c>/lib</c>, and the programs in
    /// <c>/usr/local/nvidia/bin</c>; plus the compute libraries the capture's grep left out but the 580 driver ships
    /// (the PTX JIT, NVVM, gpucomp). The CUDA toolkit's <c>libcudart</c> is not the driver's and is left out.
    /// </summary>
    public static HostTree H100WithDriverFiles()
    {
        const string Version = "580.159.04";
        const string Lib64 = "/usr/local/nvidia/lib64";
        var tree = H100();
        var stems = CacheLinePattern().Matches(Captures.H100Section("libnvidia-ml"))
            .Where(m => m.Groups["dir"].Value == Lib64 && m.Groups["stem"].Value != "libcudart")
            .Select(m => m.Groups["stem"].Value)
            .Concat(["libnvidia-ptxjitcompiler", "libnvidia-nvvm", "libnvidia-gpucomp"])
            .Distinct();
        foreach (var stem in stems)
        {
            tree.WithFile($"{Lib64}/{stem}.so.{Version}", $"{stem} {Version}\n")
                .WithSymlink($"{Lib64}/{stem}.so.1", $"{stem}.so.{Version}")
                .WithSymlink($"/lib/{stem}.so.1", $"{Lib64}/{stem}.so.{Version}");
        }

        foreach (var program in Captures.H100Section("which").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            tree.WithFile(program.Trim(), "#!/bin/sh\n");
        }

        return tree;
    }

    /// <summary>A fresh host: the GPU is driven by nouveau, no NVIDIA driver is installed.</summary>
    public static HostTree Nouveau() => new HostTree()
        .WithFile("/proc/sys/kernel/osrelease", "6.8.12-4-pve\n")
        .WithFile("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n")
        .WithDirectory("/etc/pve/lxc")
        .WithPciGpu("0000:01:00.0", "2204", "nouveau", subsystem: "0x1043:0x87b3")
        .WithFile("/proc/devices", "Character devices:\n  1 mem\n226 drm\n")
        .WithFile("/proc/modules", "nouveau 2760704 0 - Live 0x0000000000000000\ndrm_display_helper 184320 1 nouveau, Live 0x0000000000000000\n");

    /// <summary>The seed host after `apt upgrade` installed 418.226.00 and before the reboot that would load it.</summary>
    public static HostTree UpgradedNotRebooted() => Seed().WithCommand("modinfo", "[ \"$2\" = version ] && echo 418.226.00; exit 0");

    /// <summary><c>crw-rw-rw-</c> → <c>666</c>.</summary>
    private static string Mode(string permissions)
    {
        var bits = permissions[1..10].Select(c => c == '-' ? 0 : 1).ToArray();
        return string.Concat(Enumerable.Range(0, 3).Select(i => (bits[i * 3] * 4) + (bits[(i * 3) + 1] * 2) + bits[(i * 3) + 2]));
    }

    [GeneratedRegex(@"/sys/bus/pci/devices/(?<address>[0-9a-f:.]+) vendor=0x10de device=0x(?<device>[0-9a-f]+) class=(?<class>0x[0-9a-f]+) subsys=(?<subsys>\S+) driver=(?<driver>\S+)")]
    private static partial Regex PciLinePattern();

    [GeneratedRegex(@"^(?<perm>c[rwx-]{9}) +\d+ +\S+ +\S+ +(?<major>\d+), +(?<minor>\d+) .* (?<path>\S+)$", RegexOptions.Multiline)]
    private static partial Regex NodeLinePattern();

    [GeneratedRegex(@"^\s*(?<stem>lib[A-Za-z0-9_-]+)\.so\.1 \(libc6,x86-64\) => (?<dir>/\S+)/", RegexOptions.Multiline)]
    private static partial Regex CacheLinePattern();
}
