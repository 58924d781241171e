using GpuLxc.Api.Tests.Drivers;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Cases;

/// <summary>
/// Kind E, from https://github.com/NVIDIA/libnvidia-container/issues/266: a host whose driver is older than the
/// libnvidia-ml an image ships; after ldconfig ran in the container, libnvidia-ml.so.1 led to the image's newer file
/// although the host's version was there too, and nvidia-smi failed with the version mismatch. Reduced to the demo
/// host (module 550.127.05) and container 101 holding libnvidia-ml.so.550.127.05 and .570.86.15, the link on the newer.
/// The host's version being present proves nothing: what loads is the newer one.
/// </summary>
public sealed class ImageLinksNewerLibraryTests : IDisposable
{
    private const string Lib = "/usr/lib/x86_64-linux-gnu";

    private readonly HostTree _host = ContainerHosts.Demo(materialized: true).WithPctOverGuestRoots().SetStatus("101", "running")
        .WithGuestFile("101", "/etc/os-release", DriverLab.UbuntuNoble)
        .WithGuestFile("101", $"{Lib}/libnvidia-ml.so.550.127.05", "")
        .WithGuestFile("101", $"{Lib}/libnvidia-ml.so.570.86.15", "")
        .WithGuestSymlink("101", $"{Lib}/libnvidia-ml.so.1", "libnvidia-ml.so.570.86.15")
        .WithGuestFile("101", "/nvidia-smi.stub", "#!/bin/sh\necho 'Failed to initialize NVML: Driver/library version mismatch'\necho 'NVML library version: 570.86'\nexit 18\n", executable: true);

    [Fact]
    public async Task TheVersionIsTheNewerFileTheLinkLoadsNotTheHostsThatIsAlsoThere()
    {
        using var factory = new GpuLxcApiFactory(_host, ownsHost: false);

        var driver = await factory.CreateGpuLxcClient().GetContainerDriverAsync("101");

        Assert.Equal(("550.127.05", "570.86.15", false), (driver.HostVersion, driver.InstalledVersion, driver.Match));
        Assert.Contains(driver.Notes, n => n.Contains("NVML loads 570.86.15; also present but not loaded: 550.127.05", StringComparison.Ordinal));
    }

    public void Dispose() => _host.Dispose();
}
