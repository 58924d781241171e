using System.Net;
using System.Net.Http.Json;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Cases;

/// <summary>
/// Case <c>nvenc-geforce-limit</c> (issue 13, kind G), from https://github.com/jellyfin/jellyfin/issues/8719: on a
/// GeForce card Jellyfin's fourth concurrent NVENC transcode crashed, because consumer cards of that driver generation
/// allow 3 encode sessions per machine. Here Jellyfin's ffmpeg (container 160) runs 2 encodes and takes no lease;
/// nvidia-smi reports the 2 sessions as a count, without PIDs.
/// </summary>
public sealed class NvencGeforceLimitCase
{
    [Theory]
    [InlineData(null)]
    [InlineData("160")]
    public async Task TwoUnleasedEncodesHoldTwoOfTheThreeSlots(string? containerId)
    {
        using var factory = new GpuLxcApiFactory(Host(sessions: 2));
        using var http = factory.CreateKeyedClient(TestKeys.Sessions);
        var reader = factory.CreateGpuLxcClient();

        var before = Assert.Single((await reader.GetNvencAsync()).Budgets);
        using var first = await http.PostAsJsonAsync("/api/v1/nvenc/leases", new { holder = "tdarr-1", containerId });
        using var second = await http.PostAsJsonAsync("/api/v1/nvenc/leases", new { holder = "tdarr-2", containerId });
        var after = Assert.Single((await reader.GetNvencAsync()).Budgets);

        Assert.Equal((3, NvencLimitSource.DriverTable, 2, 1), (before.Limit, before.LimitSource, before.Observed, before.Available));
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.InRange(second.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 60);
        Assert.Contains("3 in use (1 leased, 2 observed running", await second.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal((3, 3, 0, 1, 2), (after.Limit, after.InUse, after.Available, after.Leases, after.Observed));
    }

    [Fact]
    public async Task TwoHundredParallelAcquiresBesideTheTwoUnleasedEncodesGrantExactlyOne()
    {
        using var factory = new GpuLxcApiFactory(Host(sessions: 2));
        using var http = factory.CreateKeyedClient(TestKeys.Sessions);

        var responses = await Task.WhenAll(Enumerable.Range(0, 200).Select(i =>
            http.PostAsJsonAsync("/api/v1/nvenc/leases", new { holder = $"transcoder-{i}" })));
        var budget = Assert.Single((await factory.CreateGpuLxcClient().GetNvencAsync()).Budgets);

        Assert.Equal(1, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        Assert.Equal(199, responses.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests));
        Assert.Equal((1, 3, 0), (budget.Leases, budget.InUse, budget.Available));
    }

    [Fact]
    public async Task WithNoEncodeRunningAllThreeSlotsGoToLeases()
    {
        using var factory = new GpuLxcApiFactory(Host(sessions: 0));
        var client = factory.CreateGpuLxcClient(TestKeys.Sessions);

        var leases = new List<Lease>();
        for (var i = 0; i < 3; i++)
        {
            leases.Add(await client.AcquireLeaseAsync(new LeaseRequest { Holder = $"tdarr-{i}" }));
        }

        var full = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.AcquireLeaseAsync(new LeaseRequest { Holder = "tdarr-3" }));

        Assert.Equal(3, leases.Count);
        Assert.Equal(429, full.StatusCode);
    }

    /// <summary>
    /// The case's host (its mkhost.sh, in this project's fixture style): PVE 7.3 on kernel 5.15.83-1-pve, a GeForce
    /// GTX 1660 SUPER (10de:21c4) at 0000:01:00.0 on driver 520.61.05, nvidia-uvm on major 508, container 160
    /// (jellyfin) running, and an nvidia-smi whose encoder session count is <paramref name="sessions"/>.
    /// </summary>
    internal static HostTree Host(int sessions)
    {
        const string Kernel = "5.15.83-1-pve", Driver = "520.61.05", Uuid = "GPU-0000cafe-0000-4000-8000-000000000000";
        return new HostTree()
            .WithFile("/etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n")
            .WithFile("/proc/sys/kernel/hostname", "pve-case\n")
            .WithFile("/proc/sys/kernel/osrelease", $"{Kernel}\n")
            .WithFile("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n")
            .WithDirectory($"/lib/modules/{Kernel}/build")
            .WithPciGpu("0000:01:00.0", "21c4", "nvidia", subsystem: "0x1043:0x8801")
            .WithFile("/proc/driver/nvidia/gpus/0000:01:00.0/information",
                $"Model: \t\t NVIDIA GeForce GTX 1660 SUPER\nIRQ:   \t\t 40\nGPU UUID: \t {Uuid}\nVideo BIOS: \t 90.16.34.00.2b\nBus Type: \t PCIe\nBus Location: \t 0000:01:00.0\nDevice Minor: \t 0\nGPU Excluded:\t No\n")
            .WithFile("/proc/driver/nvidia/version", $"NVRM version: NVIDIA UNIX x86_64 Kernel Module  {Driver}  Mon Jan  6 00:00:00 UTC 2025\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n")
            .WithFile("/sys/module/nvidia/version", $"{Driver}\n")
            .WithFile("/proc/modules",
                "nvidia_uvm 1830912 0 - Live 0x0 (PO)\nnvidia_drm 77824 0 - Live 0x0 (PO)\nnvidia_modeset 1355776 1 nvidia_drm, Live 0x0 (PO)\nnvidia 56143872 2 nvidia_uvm,nvidia_modeset, Live 0x0 (PO)\n")
            .WithFile("/proc/devices", "Character devices:\n  1 mem\n195 nvidia\n195 nvidiactl\n226 drm\n508 nvidia-uvm\n509 nvidia-caps\n\nBlock devices:\n  8 sd\n")
            .WithFile("/etc/modules-load.d/nvidia.conf", "nvidia\nnvidia_uvm\n")
            .WithCharDevice("/dev/nvidia0", 195, 0)
            .WithCharDevice("/dev/nvidiactl", 195, 255)
            .WithCharDevice("/dev/nvidia-uvm", 508, 0)
            .WithCharDevice("/dev/nvidia-uvm-tools", 508, 1)
            .WithFile("/etc/pve/lxc/160.conf",
                "arch: amd64\ncores: 4\nhostname: jellyfin\nmemory: 4096\nnet0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:01:60,ip=dhcp,type=veth\n" +
                "onboot: 1\nostype: debian\nrootfs: local-lvm:vm-160-disk-0,size=16G\nswap: 512\n")
            .WithCommand("pveversion", $"echo 'pve-manager/7.3.6/0123456789abcdef (running kernel: {Kernel})'")
            .WithCommand("modinfo", $"[ \"$3\" = nvidia ] || exit 1\ncase \"$2\" in version) echo {Driver} ;; signer) echo 'DKMS module signing key' ;; esac")
            .WithCommand("dkms", $"[ \"$1\" = status ] && echo 'nvidia/{Driver}, {Kernel}, x86_64: installed'")
            .WithCommand("nvidia-smi",
                $"case \"$1\" in --query-gpu=*) echo '0, {Uuid}, NVIDIA GeForce GTX 1660 SUPER, 00000000:01:00.0, {Driver}, 90.16.34.00.2B, {sessions}, 59, 4100, 22' ;; *) exit 2 ;; esac")
            .WithCommand("pct",
                "case \"$1\" in list) printf 'VMID       Status     Lock         Name\\n160        running                 CT160\\n' ;; " +
                "status) [ \"$2\" = 160 ] && echo 'status: running' || exit 2 ;; *) exit 1 ;; esac");
    }
}
