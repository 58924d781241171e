using GpuLxc.Api.Tests.Drivers;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Cases;

/// <summary>
/// Kind E, from https://github.com/NVIDIA/nvidia-docker/issues/182: the host's driver was upgraded (367.35 to 367.44)
/// and not rebooted; the kernel kept the old module, every NVML client failed with the version mismatch, and the
/// reporter asked whether to downgrade. A reboot fixed it. Reduced to the seed host after an upgrade to 418.226.00
/// (module 418.152.00 still loaded), whose nvidia-smi fails with NVML's mismatch message and whose libnvidia-ml.so.1
/// already leads to the new release; and to a container that already has the new release. The fix is the reboot.
/// </summary>
public sealed class UpgradeWithoutRebootTests
{
    private const string Mismatch = "Failed to initialize NVML: Driver/library version mismatch";

    [Fact]
    public async Task TheHostCheckKeepsNvmlsWordsAndSaysRebootNeverDowngrade()
    {
        using var host = HostFixtures.UpgradedNotRebooted()
            .WithCommand("nvidia-smi", $"echo '{Mismatch}'; echo 'NVML library version: 418.226'; exit 18")
            .WithFile("/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.418.226.00", "")
            .WithSymlink("/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1", "libnvidia-ml.so.418.226.00");
        using var factory = new GpuLxcApiFactory(host, ownsHost: false);

        var check = (await factory.CreateGpuLxcClient().GetDiagnosticsAsync()).Checks.Single(c => c.Id == "userspace-matches-kernel");

        Assert.Equal(CheckStatus.Fail, check.Status);
        Assert.Contains("Kernel module 418.152.00, userspace 418.226.00", check.Detail, StringComparison.Ordinal);
        Assert.Contains(Mismatch, check.Detail, StringComparison.Ordinal);
        Assert.StartsWith("Reboot the host: 418.226.00 is installed", check.Fix, StringComparison.Ordinal);
        Assert.DoesNotContain("Reinstall", check.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AContainerThatAlreadyHasTheNewReleaseIsToldToRebootTheHostNotToDowngrade()
    {
        using var lab = new DriverLab();
        lab.Stub("modinfo", "[ \"$2\" = version ] && echo 550.135; exit 0")
            .GuestDriver("550.135", null)
            .Guest("nvidia-smi", $"echo '{Mismatch}'; echo 'NVML library version: 550.135'; exit 18");
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();
        await DriverLab.AttachAsync(client);

        var job = await DriverLab.WaitAsync(client, (await client.VerifyContainerGpuAsync("101")).Result.Id);

        Assert.Equal(("versionMismatch", "nvidiaSmi"), (job.Error!.Code, job.Error.Step));
        Assert.Contains(Mismatch, job.Error.Message, StringComparison.Ordinal);
        Assert.Equal("Reboot the host: its driver was upgraded to 550.135, which the container already has, but the running kernel still has 550.127.05 loaded.", job.Error.Fix);
        Assert.Equal(("550.127.05", "550.135", false), (job.Result!.HostVersion, job.Result.InstalledVersion, job.Result.Match));
    }
}
