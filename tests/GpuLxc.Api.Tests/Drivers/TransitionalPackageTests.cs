using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Drivers;

/// <summary>
/// Ubuntu's <c>*-590</c> packages became transitional packages of version 595.x that pull the 595 branch: a container
/// of a host on 590.48.01 must get the real 590.48.01 packages, pinned and held, never 595.
/// </summary>
public sealed class TransitionalPackageTests
{
    private const string Host590 = "590.48.01";

    private static readonly string Madison = string.Join('\n', ((string[])["libnvidia-compute", "libnvidia-encode", "libnvidia-decode", "nvidia-utils"]).SelectMany(package => (string[])
    [
        $" {package} | 595.45.04-0ubuntu0.24.04.1 | http://archive.ubuntu.com/ubuntu noble-updates/restricted amd64 Packages",
        $" {package}-590 | 595.45.04-0ubuntu0.24.04.1 | http://archive.ubuntu.com/ubuntu noble-updates/restricted amd64 Packages",
        $" {package}-590 | {Host590}-0ubuntu0.24.04.1 | http://archive.ubuntu.com/ubuntu noble-updates/restricted amd64 Packages",
    ]));

    [Fact]
    public async Task AGuestOfA590HostGetsThe590PackagesHeldAndNever595()
    {
        using var lab = new DriverLab();
        lab.Host.WithFile("/proc/driver/nvidia/version", $"NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  {Host590}  Release Build  (dvs-builder@U22-I3-AE18-23-3)  Mon Dec  1 00:00:00 UTC 2025\n")
            .WithFile("/sys/module/nvidia/version", $"{Host590}\n");
        lab.Stub("modinfo", $"[ \"$2\" = version ] && echo {Host590}; exit 0")
            .Guest("apt-cache", $"cat <<'EOF'\n{Madison}\nEOF")
            .Guest("dpkg-query", $"shift 3; for p in \"$@\"; do echo \"ii |$p|{Host590}-0ubuntu0.24.04.1\"; done")
            .Guest("apt-get", "touch \"$(dirname \"$0\")/../installed\"")
            .Guest("nvidia-smi", $"[ -f \"$(dirname \"$0\")/../installed\" ] && echo {Host590} || exit 9");
        using var factory = new GpuLxcApiFactory(lab.Host, ownsHost: false);
        var client = factory.CreateGpuLxcClient();
        await DriverLab.AttachAsync(client);

        var job = await DriverLab.WaitAsync(client, (await client.InstallContainerDriverAsync("101", new GuestDriverInstallRequest())).Result.Id);

        Assert.True(job.State == JobState.Succeeded, job.Error?.Message);
        var install = Assert.Single(lab.Commands, c => c.Contains("apt-get install", StringComparison.Ordinal));
        Assert.EndsWith($"libnvidia-compute-590={Host590}-0ubuntu0.24.04.1 libnvidia-encode-590={Host590}-0ubuntu0.24.04.1 " +
                        $"libnvidia-decode-590={Host590}-0ubuntu0.24.04.1 nvidia-utils-590={Host590}-0ubuntu0.24.04.1", install, StringComparison.Ordinal);
        Assert.DoesNotContain("595", install, StringComparison.Ordinal);
        Assert.Contains("pct exec 101 -- apt-mark hold libnvidia-compute-590 libnvidia-encode-590 libnvidia-decode-590 nvidia-utils-590", lab.Commands);
        Assert.Equal((Host590, Host590), (job.Result!.HostVersion, job.Result.InstalledVersion));
    }
}
