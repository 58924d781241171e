using System.Globalization;
using GpuLxc.Api.Tests.Support;

namespace GpuLxc.Api.Tests.Cases;

/// <summary>
/// The host trees of issue 13's bug-report cases (their <c>common.sh</c>), built the project's way: a Debian 12 /
/// Proxmox host on cgroup2, NVIDIA GPUs in sysfs and procfs, the loaded driver, <c>/proc/devices</c> with the dynamic
/// majors a boot gave, real device nodes, and stub <c>pveversion</c>, <c>modinfo</c>, <c>dkms</c>, <c>nvidia-smi</c>, <c>pct</c>.
/// </summary>
public static class ReportHosts
{
    /// <summary>A Proxmox VE node running <paramref name="kernel"/>, with <paramref name="driver"/> installed for it; no GPU yet.</summary>
    public static HostTree Proxmox(string pveVersion, string kernel, string driver) => new HostTree()
        .WithFile("/etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n")
        .WithFile("/proc/sys/kernel/hostname", "pve-case\n")
        .WithFile("/proc/sys/kernel/osrelease", $"{kernel}\n")
        .WithFile("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n")
        .WithFile("/proc/modules", "")
        .WithDirectory($"/lib/modules/{kernel}/build")
        .WithDirectory("/etc/udev/rules.d")
        .WithDirectory("/etc/pve/lxc")
        .WithCommand("pveversion", $"echo 'pve-manager/{pveVersion}/0123456789abcdef (running kernel: {kernel})'")
        .WithCommand("modinfo", $"[ \"$3\" = nvidia ] || exit 1\ncase \"$2\" in version) echo {driver} ;; signer) echo 'DKMS module signing key' ;; esac")
        .WithCommand("dkms", $"[ \"$1\" = status ] && echo 'nvidia/{driver}, {kernel}, x86_64: installed'")
        .WithPct();

    /// <summary>An NVIDIA GPU bound to nvidia, with its procfs entry (UUID made from the minor, as the cases do).</summary>
    public static HostTree WithNvidiaGpu(this HostTree host, string address, string deviceId, int minor, string model) => host
        .WithPciGpu(address, deviceId, "nvidia", subsystem: "0x1043:0x8801")
        .WithFile($"/proc/driver/nvidia/gpus/{address}/information", string.Create(CultureInfo.InvariantCulture,
            $"Model: \t\t {model}\nIRQ:   \t\t 4{minor}\nGPU UUID: \t GPU-0000cafe-0000-4000-8000-{minor:D12}\nVideo BIOS: \t 90.00.00.00.01\nBus Type: \t PCIe\nBus Location: \t {address}\nDevice Minor: \t {minor}\nGPU Excluded:\t No\n"));

    /// <summary>The driver loaded: its banner, its sysfs version, and nvidia, nvidia_uvm, nvidia_modeset, nvidia_drm in /proc/modules.</summary>
    public static HostTree WithDriverLoaded(this HostTree host, string version) => host
        .WithFile("/proc/driver/nvidia/version", $"NVRM version: NVIDIA UNIX x86_64 Kernel Module  {version}  Mon Jan  6 00:00:00 UTC 2025\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n")
        .WithFile("/sys/module/nvidia/version", $"{version}\n")
        .WithFile("/proc/modules", "nvidia_uvm 1830912 0 - Live 0x0 (PO)\nnvidia_drm 77824 0 - Live 0x0 (PO)\nnvidia_modeset 1355776 1 nvidia_drm, Live 0x0 (PO)\nnvidia 56143872 2 nvidia_uvm,nvidia_modeset, Live 0x0 (PO)\n")
        .WithFile("/etc/modules-load.d/nvidia.conf", "nvidia\nnvidia_uvm\n");

    /// <summary><c>/proc/devices</c> with the majors this boot gave nvidia-uvm and nvidia-caps (nvidia's is always 195).</summary>
    public static HostTree WithProcDevices(this HostTree host, uint uvm, uint caps) => host.WithFile("/proc/devices", string.Create(CultureInfo.InvariantCulture,
        $"Character devices:\n  1 mem\n  4 /dev/vc/0\n  5 /dev/tty\n 10 misc\n195 nvidia\n195 nvidiactl\n226 drm\n{uvm} nvidia-uvm\n{caps} nvidia-caps\n\nBlock devices:\n  7 loop\n  8 sd\n"));

    /// <summary>The usual nodes: one per GPU minor, nvidiactl, and both uvm nodes on <paramref name="uvmMajor"/>.</summary>
    public static HostTree WithNodes(this HostTree host, uint uvmMajor, params uint[] gpuMinors)
    {
        foreach (var minor in gpuMinors)
        {
            host.WithCharDevice(string.Create(CultureInfo.InvariantCulture, $"/dev/nvidia{minor}"), 195, minor);
        }

        return host.WithCharDevice("/dev/nvidiactl", 195, 255).WithCharDevice("/dev/nvidia-uvm", uvmMajor, 0).WithCharDevice("/dev/nvidia-uvm-tools", uvmMajor, 1);
    }

    /// <summary>An <c>nvidia-smi</c> that answers GpuLxc's <c>--query-gpu</c> with <paramref name="csvLines"/>, in NVML's order.</summary>
    public static HostTree WithSmi(this HostTree host, params string[] csvLines) =>
        host.WithCommand("nvidia-smi", $"case \"$1\" in --query-gpu=*) cat <<'CSV'\n{string.Join('\n', csvLines)}\nCSV\n;; *) exit 2 ;; esac");

    /// <summary>A plain Debian container config (the cases' <c>NNN.conf</c>).</summary>
    public static string PlainContainer(string vmid, string hostname, bool onboot = false) => $"""
        arch: amd64
        cores: 4
        features: nesting=1
        hostname: {hostname}
        memory: 4096
        net0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:01:{vmid[^2..]},ip=dhcp,type=veth
        {(onboot ? "onboot: 1\n" : "")}ostype: debian
        rootfs: local-lvm:vm-{vmid}-disk-0,size=20G
        swap: 512

        """;
}
