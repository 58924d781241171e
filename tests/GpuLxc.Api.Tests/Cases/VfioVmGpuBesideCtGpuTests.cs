using GpuLxc.Api.Tests.Drivers;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Cases;

/// <summary>
/// Case <c>vfio-vm-gpu-beside-ct-gpu</c> (kind J: other guests' claims are valid state). From
/// https://github.com/canonical/lxd/issues/12128 (also lxc/lxc#4332, lxc/incus#30): on one multi-GPU host some GPUs
/// are bound to vfio-pci and given whole to VMs while containers share the others through the host's nvidia driver.
/// Reduced: two RTX A5000, 0000:01:00.0 on nvidia 550.127.05 for containers, 0000:41:00.0 on vfio-pci (a driverctl
/// override) in VM 200's hostpci0; CT 120 without a GPU. The install job's commands are recording stubs.
/// </summary>
public sealed class VfioVmGpuBesideCtGpuTests : IDisposable
{
    private static readonly string[] InstallTools = ["apt-get", "apt-cache", "update-initramfs", "udevadm", "systemctl", "nvidia-detect"];
    private readonly HostTree _host = Host();

    public static HostTree Host()
    {
        var tree = new HostTree()
            .WithFile("/proc/sys/kernel/hostname", "pve-case\n")
            .WithFile("/proc/sys/kernel/osrelease", "6.8.12-4-pve\n")
            .WithFile("/etc/os-release", DriverLab.DebianBookworm)
            .WithFile("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n")
            .WithDirectory("/lib/modules/6.8.12-4-pve/build")
            .WithPciGpu("0000:01:00.0", "2231", "nvidia", subsystem: "0x1043:0x8801")
            .WithFile("/proc/driver/nvidia/gpus/0000:01:00.0/information",
                "Model: \t\t NVIDIA RTX A5000\nIRQ:   \t\t 40\nGPU UUID: \t GPU-0000cafe-0000-4000-8000-000000000000\nVideo BIOS: \t 90.00.00.00.01\nBus Type: \t PCIe\nBus Location: \t 0000:01:00.0\nDevice Minor: \t 0\nGPU Excluded:\t No\n")
            .WithPciGpu("0000:41:00.0", "2231", "vfio-pci", subsystem: "0x1043:0x8801")
            .WithFile("/sys/bus/pci/devices/0000:41:00.0/driver_override", "vfio-pci\n")
            .WithFile("/etc/driverctl.d/pci-0000:41:00.0", "vfio-pci\n")
            .WithFile("/proc/driver/nvidia/version", "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.127.05  Mon Jan  6 00:00:00 UTC 2025\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n")
            .WithFile("/sys/module/nvidia/version", "550.127.05\n")
            .WithFile("/proc/modules", "nvidia_uvm 1830912 0 - Live 0x0 (PO)\nnvidia_modeset 1355776 0 - Live 0x0 (PO)\nnvidia 56143872 2 nvidia_uvm,nvidia_modeset, Live 0x0 (PO)\nvfio_pci 16384 1 - Live 0x0\n")
            .WithFile("/proc/devices", "Character devices:\n  1 mem\n195 nvidia\n195 nvidiactl\n226 drm\n508 nvidia-uvm\n509 nvidia-caps\n\nBlock devices:\n  8 sd\n")
            .WithFile("/etc/modules-load.d/nvidia.conf", "nvidia\nnvidia_uvm\n")
            .WithCharDevice("/dev/nvidia0", 195, 0).WithCharDevice("/dev/nvidiactl", 195, 255)
            .WithCharDevice("/dev/nvidia-uvm", 508, 0).WithCharDevice("/dev/nvidia-uvm-tools", 508, 1)
            .WithFile("/etc/pve/qemu-server/200.conf", "boot: order=scsi0\ncores: 8\ncpu: host\nhostpci0: 0000:41:00.0,pcie=1\nmachine: q35\nmemory: 32768\nname: cuda-vm\n" +
                                                       "net0: virtio=BC:24:11:00:02:00,bridge=vmbr0\nostype: l26\nscsi0: local-lvm:vm-200-disk-0,size=64G\nscsihw: virtio-scsi-single\n")
            .WithCommand("pveversion", "echo 'pve-manager/8.2.7/0123456789abcdef (running kernel: 6.8.12-4-pve)'")
            .WithCommand("modinfo", "[ \"$3\" = nvidia ] || exit 1; case \"$2\" in version) echo 550.127.05 ;; signer) echo 'DKMS module signing key' ;; esac")
            .WithCommand("dkms", "[ \"$1\" = status ] && echo 'nvidia/550.127.05, 6.8.12-4-pve, x86_64: installed'")
            .WithCommand("nvidia-smi", "case \"$1\" in --query-gpu=*) echo '0, GPU-0000cafe-0000-4000-8000-000000000000, NVIDIA RTX A5000, 00000000:01:00.0, 550.127.05, 94.02.6D.00.0B, 0, 0, 0, 0' ;; *) exit 2 ;; esac")
            .WithPct()
            .WithContainer("120", "arch: amd64\ncores: 4\nhostname: inference\nmemory: 16384\nnet0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:01:20,ip=dhcp,type=veth\nostype: ubuntu\nrootfs: local-lvm:vm-120-disk-0,size=64G\nswap: 512\n");
        foreach (var tool in InstallTools)
        {
            tree.WithCommand(tool, $"echo \"{tool} $*\" >> '{Path.Join(tree.BinDir, "cmd.log")}'");
        }

        return tree;
    }

    [Fact]
    public async Task TheInventoryReportsTheVfioGpuAsVm200s()
    {
        using var factory = new GpuLxcApiFactory(_host, ownsHost: false);

        var gpus = (await factory.CreateGpuLxcClient().ListGpusAsync(refresh: true)).Gpus;

        var vm = Assert.Single(gpus, g => g.PciAddress == "0000:41:00.0");
        Assert.Equal(("vfio-pci", 200, "hostpci0", "/etc/pve/qemu-server/200.conf"), (vm.KernelDriver, vm.AssignedTo!.Vm, vm.AssignedTo.Entry, vm.AssignedTo.Config));
        Assert.Contains(vm.Notes, n => n.StartsWith("Passed through to VM 200", StringComparison.Ordinal));
        Assert.Null(Assert.Single(gpus, g => g.PciAddress == "0000:01:00.0").AssignedTo);
    }

    [Fact]
    public async Task DiagnosticsReportTheVmsGpuAsReservedAndNeverTellToRemoveThePassthrough()
    {
        using var factory = new GpuLxcApiFactory(_host, ownsHost: false);

        var report = await factory.CreateGpuLxcClient().GetDiagnosticsAsync();

        var bound = report.Checks.Single(c => c.Id == "gpu-bound");
        Assert.Equal(CheckStatus.Pass, bound.Status);
        Assert.Contains("0000:41:00.0 is passed through to VM 200 (hostpci0), on vfio-pci", bound.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(report.Checks, c => c.Status == CheckStatus.Fail && c.Detail.Contains("0000:41:00.0", StringComparison.Ordinal));
        Assert.DoesNotContain(report.Checks, c => (c.Fix ?? "").Contains("hostpci", StringComparison.Ordinal) || (c.Fix ?? "").Contains("vfio", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TheHostDriverInstallIsNotRefusedAndLeavesTheVmsGpuAlone()
    {
        using var factory = new GpuLxcApiFactory(_host, ownsHost: false);
        var client = factory.CreateGpuLxcClient();

        var job = await DriverLab.WaitAsync(client, (await client.InstallHostDriverAsync(new HostDriverInstallRequest())).Result.Id);

        var preflight = job.Steps.Single(s => s.Name == "preflight");
        Assert.Equal(JobStepState.Succeeded, preflight.State);
        Assert.Contains("0000:01:00.0 on nvidia, 0000:41:00.0 on vfio-pci, stays with VM 200", preflight.Message, StringComparison.Ordinal);
        Assert.NotEqual("preflight", job.Error?.Step);
        Assert.Equal(JobStepState.Succeeded, job.Steps.Single(s => s.Name == "headers").State);
        Assert.DoesNotContain(File.ReadAllLines(Path.Join(_host.BinDir, "cmd.log")), line => line.Contains("41:00", StringComparison.Ordinal) || line.Contains("vfio", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AttachingToTheContainerTakesOnlyTheNvidiaGpu()
    {
        using var factory = new GpuLxcApiFactory(_host, ownsHost: false);

        var plan = (await factory.CreateGpuLxcClient().AttachGpuAsync("120", new AttachRequest(), dryRun: true)).Result;

        Assert.Equal(["0000:01:00.0"], plan.Attachment!.Gpus);
    }

    public void Dispose() => _host.Dispose();
}
