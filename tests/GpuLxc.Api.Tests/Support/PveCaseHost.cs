using System.Globalization;

namespace GpuLxc.Api.Tests.Support;

/// <summary>
/// The host trees of the bug-report cases (../shared/cases/common.sh) in the project's fixture style: a Proxmox VE
/// node on cgroup2 with one NVIDIA GPU, its driver loaded, /proc/devices with the dynamic majors given, and real
/// device nodes made as each case lists them.
/// </summary>
public static class PveCaseHost
{
    /// <summary>
    /// A PVE node (<paramref name="pveVersion"/>, <paramref name="kernel"/>) with the GPU at <paramref name="bus"/>
    /// (minor 0) on driver <paramref name="driver"/>, nvidia-uvm on major <paramref name="uvmMajor"/> and nvidia-caps on
    /// <paramref name="capsMajor"/>; modules-load.d lists nvidia and nvidia_uvm; no node is made yet.
    /// </summary>
    public static HostTree Create(string pveVersion, string kernel, string bus, string deviceId, string model, string driver, uint uvmMajor, uint capsMajor)
    {
        const string Uuid = "GPU-0000cafe-0000-4000-8000-000000000000";
        return new HostTree()
            .WithFile("/proc/sys/kernel/hostname", "pve-case\n")
            .WithFile("/proc/sys/kernel/osrelease", $"{kernel}\n")
            .WithFile("/etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n")
            .WithFile("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n")
            .WithDirectory($"/lib/modules/{kernel}/build")
            .WithDirectory("/etc/pve/lxc")
            .WithPciGpu(bus, deviceId, "nvidia", subsystem: "0x1043:0x8801")
            .WithFile($"/proc/driver/nvidia/gpus/{bus}/information",
                $"Model: \t\t {model}\nIRQ:   \t\t 40\nGPU UUID: \t {Uuid}\nVideo BIOS: \t 90.00.00.00.01\nBus Type: \t PCIe\nBus Location: \t {bus}\nDevice Minor: \t 0\nGPU Excluded:\t No\n")
            .WithFile("/proc/driver/nvidia/version", $"NVRM version: NVIDIA UNIX x86_64 Kernel Module  {driver}  Mon Jan  6 00:00:00 UTC 2025\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n")
            .WithFile("/sys/module/nvidia/version", $"{driver}\n")
            .WithFile("/proc/modules",
                "nvidia_uvm 1830912 0 - Live 0x0 (PO)\nnvidia_drm 77824 0 - Live 0x0 (PO)\nnvidia_modeset 1355776 1 nvidia_drm, Live 0x0 (PO)\nnvidia 56143872 2 nvidia_uvm,nvidia_modeset, Live 0x0 (PO)\n")
            .WithFile("/proc/devices", string.Create(CultureInfo.InvariantCulture,
                $"Character devices:\n  1 mem\n  4 /dev/vc/0\n  5 /dev/tty\n 10 misc\n195 nvidia\n195 nvidiactl\n226 drm\n{uvmMajor} nvidia-uvm\n{capsMajor} nvidia-caps\n\nBlock devices:\n  7 loop\n  8 sd\n"))
            .WithFile("/etc/modules-load.d/nvidia.conf", "nvidia\nnvidia_uvm\n")
            .WithCommand("pveversion", $"echo 'pve-manager/{pveVersion}/0123456789abcdef (running kernel: {kernel})'")
            .WithCommand("modinfo", $"[ \"$3\" = nvidia ] || exit 1\ncase \"$2\" in version) echo \"{driver}\" ;; signer) echo \"DKMS module signing key\" ;; esac")
            .WithCommand("dkms", $"[ \"$1\" = status ] && echo \"nvidia/{driver}, {kernel}, x86_64: installed\"")
            .WithCommand("nvidia-smi",
                $"case \"$1\" in --query-gpu=*) echo '0, {Uuid}, {model}, 0000{bus.ToUpperInvariant()}, {driver}, 86.06.3F.00.30, 0, 0, 0, 0' ;; *) exit 2 ;; esac")
            .WithPct();
    }
}
