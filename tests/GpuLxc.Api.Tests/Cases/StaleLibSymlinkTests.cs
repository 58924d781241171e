using GpuLxc.Api.Tests.Drivers;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Cases;

/// <summary>
/// Case <c>stale-lib-symlink</c> (kind E: versions are what gets loaded). From
/// https://github.com/NVIDIA/nvidia-docker/issues/584: after a driver update NVML kept failing with the version
/// mismatch because the libnvidia-ml links still pointed at the old release's files. Reduced to a container: it holds
/// libnvidia-ml.so.550.127.05 and .550.144.03, and libnvidia-ml.so.1 (what the loader opens) still leads to the old one.
/// </summary>
public sealed class StaleLibSymlinkTests : IDisposable
{
    private const string Lib = "/usr/lib/x86_64-linux-gnu";
    private readonly HostTree _host = Host();

    /// <summary>PVE 8.3, GTX 1660 on module 550.144.03; container 131 (Ubuntu 22.04, running) with the stale link.</summary>
    public static HostTree Host() => new HostTree()
        .WithFile("/proc/sys/kernel/hostname", "pve-case\n")
        .WithFile("/proc/sys/kernel/osrelease", "6.8.12-5-pve\n")
        .WithFile("/etc/os-release", DriverLab.DebianBookworm)
        .WithFile("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n")
        .WithDirectory("/lib/modules/6.8.12-5-pve/build")
        .WithPciGpu("0000:01:00.0", "2184", "nvidia", subsystem: "0x1043:0x8801")
        .WithFile("/proc/driver/nvidia/gpus/0000:01:00.0/information",
            "Model: \t\t NVIDIA GeForce GTX 1660\nIRQ:   \t\t 40\nGPU UUID: \t GPU-0000cafe-0000-4000-8000-000000000000\nVideo BIOS: \t 90.00.00.00.01\nBus Type: \t PCIe\nBus Location: \t 0000:01:00.0\nDevice Minor: \t 0\nGPU Excluded:\t No\n")
        .WithFile("/proc/driver/nvidia/version", "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.144.03  Mon Jan  6 00:00:00 UTC 2025\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n")
        .WithFile("/sys/module/nvidia/version", "550.144.03\n")
        .WithFile("/proc/modules", "nvidia_uvm 1830912 0 - Live 0x0 (PO)\nnvidia_modeset 1355776 0 - Live 0x0 (PO)\nnvidia 56143872 2 nvidia_uvm,nvidia_modeset, Live 0x0 (PO)\n")
        .WithFile("/proc/devices", "Character devices:\n  1 mem\n195 nvidia\n195 nvidiactl\n226 drm\n508 nvidia-uvm\n509 nvidia-caps\n\nBlock devices:\n  8 sd\n")
        .WithFile("/etc/modules-load.d/nvidia.conf", "nvidia\nnvidia_uvm\n")
        .WithCharDevice("/dev/nvidia0", 195, 0).WithCharDevice("/dev/nvidiactl", 195, 255)
        .WithCharDevice("/dev/nvidia-uvm", 508, 0).WithCharDevice("/dev/nvidia-uvm-tools", 508, 1)
        .WithCommand("pveversion", "echo 'pve-manager/8.3.2/0123456789abcdef (running kernel: 6.8.12-5-pve)'")
        .WithCommand("modinfo", "[ \"$3\" = nvidia ] || exit 1; [ \"$2\" = version ] && echo 550.144.03; exit 0")
        .WithCommand("nvidia-smi", "echo '0, GPU-0000cafe-0000-4000-8000-000000000000, NVIDIA GeForce GTX 1660, 00000000:01:00.0, 550.144.03, 90.16.25.00.4C, 0, 0, 0, 0'")
        .WithPctOverGuestRoots()
        .WithContainer("131", "arch: amd64\ncores: 4\nfeatures: nesting=1\nhostname: tdarr\nmemory: 4096\nnet0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:01:31,ip=dhcp,type=veth\nonboot: 1\nostype: ubuntu\nrootfs: local-lvm:vm-131-disk-0,size=32G\nswap: 512\n", "running")
        .WithGuestFile("131", "/etc/os-release", "PRETTY_NAME=\"Ubuntu 22.04.5 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nVERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\n")
        .WithGuestFile("131", $"{Lib}/libnvidia-ml.so.550.127.05", "")
        .WithGuestFile("131", $"{Lib}/libnvidia-ml.so.550.144.03", "")
        .WithGuestSymlink("131", $"{Lib}/libnvidia-ml.so.1", "libnvidia-ml.so.550.127.05")
        .WithGuestFile("131", "/nvidia-smi.stub", "#!/bin/sh\necho 'Failed to initialize NVML: Driver/library version mismatch'\necho 'NVML library version: 550.127'\nexit 18\n", executable: true)
        .WithGuestCharDevice("131", "/dev/nvidia0", 195, 0).WithGuestCharDevice("131", "/dev/nvidiactl", 195, 255)
        .WithGuestCharDevice("131", "/dev/nvidia-uvm", 508, 0).WithGuestCharDevice("131", "/dev/nvidia-uvm-tools", 508, 1);

    [Fact]
    public async Task TheDriverReadGivesTheVersionLibnvidiaMlSo1LoadsAndNamesTheStaleLink()
    {
        using var factory = new GpuLxcApiFactory(_host, ownsHost: false);
        var client = factory.CreateGpuLxcClient();

        var driver = await client.GetContainerDriverAsync("131");

        Assert.Equal(("550.144.03", "550.127.05", false), (driver.HostVersion, driver.InstalledVersion, driver.Match));
        Assert.Contains(driver.Notes, n => n.Contains("libnvidia-ml.so.1 → libnvidia-ml.so.550.127.05", StringComparison.Ordinal) &&
                                           n.Contains("The link is stale", StringComparison.Ordinal));
        Assert.Contains(driver.Notes, n => n.Contains("Failed to initialize NVML: Driver/library version mismatch", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TheVerifyJobFailsWithTheMismatchAndTheLoadedVersionInItsResult()
    {
        using var factory = new GpuLxcApiFactory(_host, ownsHost: false);
        var client = factory.CreateGpuLxcClient();
        await client.AttachGpuAsync("131", new AttachRequest());

        var job = await DriverLab.WaitAsync(client, (await client.VerifyContainerGpuAsync("131")).Result.Id);

        Assert.Equal(JobState.Failed, job.State);
        Assert.Equal(("versionMismatch", "nvidiaSmi"), (job.Error!.Code, job.Error.Step));
        Assert.Contains("Driver/library version mismatch", job.Error.Message, StringComparison.Ordinal);
        Assert.Contains("the container has libnvidia-ml 550.127.05, the host's kernel module is 550.144.03", job.Error.Message, StringComparison.Ordinal);
        Assert.Equal(("550.144.03", "550.127.05", false), (job.Result!.HostVersion, job.Result.InstalledVersion, job.Result.Match));
    }

    public void Dispose() => _host.Dispose();
}
