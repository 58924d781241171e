using GpuLxc.Api.Tests.Drivers;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Cases;

/// <summary>
/// Case <c>nvidia-detect-legacy-smi</c> (kind K: one driver series end to end). From
/// https://github.com/linuxdeepin/developer-center/issues/2231: nvidia-detect recommended the 390 legacy driver for a
/// Quadro 600; installing the plain <c>nvidia-smi</c> package beside it pulled in the current series, which does not
/// support the card; the legacy series has its own tools package. Reduced: a PVE 7.4 node (Debian 11) with the Quadro
/// 600 on nouveau and no NVIDIA driver; apt-get records its calls (and says what the plain nvidia-smi would pull in);
/// modinfo reports 390.157 once the legacy driver is installed.
/// </summary>
public sealed class NvidiaDetectLegacySmiTests : IDisposable
{
    private const string Kernel = "5.15.131-2-pve";
    private readonly HostTree _host = Host();

    private string AptLog => Path.Join(_host.BinDir, "apt.log");

    public static HostTree Host()
    {
        var tree = new HostTree();
        var apt = Path.Join(tree.BinDir, "apt.log");
        var installed = Path.Join(tree.BinDir, "driver-installed");
        tree.WithFile("/proc/sys/kernel/hostname", "pve-case\n")
            .WithFile("/proc/sys/kernel/osrelease", $"{Kernel}\n")
            .WithFile("/etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 11 (bullseye)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"11\"\nVERSION_CODENAME=bullseye\nID=debian\n")
            .WithFile("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n")
            .WithDirectory($"/lib/modules/{Kernel}/build")
            .WithDirectory("/etc/pve/lxc")
            .WithPciGpu("0000:01:00.0", "0df8", "nouveau", subsystem: "0x1043:0x8801")
            .WithFile("/proc/modules", "nouveau 2318336 1 - Live 0x0\n")
            .WithCommand("pveversion", $"echo 'pve-manager/7.4-17/513c62be (running kernel: {Kernel})'")
            .WithCommand("nvidia-detect", """
                printf 'Detected NVIDIA GPUs:\n01:00.0 VGA compatible controller [0300]: NVIDIA Corporation GF108GL [Quadro 600] [10de:0df8] (rev a1)\n\n'
                printf 'Checking card:  NVIDIA Corporation GF108GL [Quadro 600] (rev a1)\nYour card is only supported up to the 390 legacy drivers series.\n'
                printf 'It is recommended to install the\n    nvidia-legacy-390xx-driver\npackage.\n'
                """)
            .WithCommand("apt-get", $"""
                echo "apt-get $*" >> '{apt}'
                case " $* " in *" install "*nvidia-legacy-390xx-driver*) touch '{installed}' ;; esac
                case " $* " in *" install "*" nvidia-smi "*|*" install "*" nvidia-smi")
                  echo "The following additional packages will be installed:"
                  echo "  libnvidia-ml1 nvidia-alternative nvidia-kernel-dkms nvidia-kernel-support (470.223.02-4~deb11u1)" ;;
                esac
                exit 0
                """)
            .WithCommand("modinfo", $$"""
                [ "$3" = nvidia ] && [ -e '{{installed}}' ] || { echo "modinfo: ERROR: Module $3 not found." >&2; exit 1; }
                case "$2" in version) echo 390.157 ;; signer) echo "" ;; esac
                """)
            .WithCommand("nvidia-smi", "echo \"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\"; exit 9")
            .WithPct();
        foreach (var tool in (string[])["update-initramfs", "udevadm", "systemctl"])
        {
            tree.WithCommand(tool, $"echo \"{tool} $*\" >> '{apt}'");
        }

        return tree;
    }

    [Fact]
    public async Task TheLegacyDriverComesWithItsOwnNvidiaSmiNeverTheCurrentSeriesOne()
    {
        using var factory = new GpuLxcApiFactory(_host, ownsHost: false);
        var client = factory.CreateGpuLxcClient();

        var job = await DriverLab.WaitAsync(client, (await client.InstallHostDriverAsync(new HostDriverInstallRequest())).Result.Id);

        Assert.True(job.State == JobState.Succeeded, job.Error?.Message);
        var installs = File.ReadAllLines(AptLog).Where(l => l.StartsWith("apt-get install -y nvidia", StringComparison.Ordinal)).ToList();
        Assert.Equal(["apt-get install -y nvidia-legacy-390xx-driver nvidia-legacy-390xx-smi nvidia-modprobe"], installs);
        Assert.DoesNotContain(File.ReadAllLines(AptLog), l => $"{l} ".Contains(" nvidia-smi ", StringComparison.Ordinal));
        Assert.Equal("apt-get install nvidia-legacy-390xx-driver nvidia-legacy-390xx-smi nvidia-modprobe", job.Steps.Single(s => s.Name == "driver").Message);
        Assert.Equal(["nvidia-legacy-390xx-driver", "nvidia-legacy-390xx-smi", "nvidia-modprobe"], job.Result!.Packages);
        Assert.Equal(("390.157", true), (job.Result.InstalledVersion, job.Result.RebootRequired));
    }

    public void Dispose() => _host.Dispose();
}
