using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Inventory;

public sealed class InventoryApiTests
{
    [Fact]
    public async Task ListingGpusOnTheH100HostReportsItFromSysfsAndProcfsWithItsRealNode()
    {
        using var factory = new GpuLxcApiFactory(HostFixtures.H100());

        var list = await factory.CreateGpuLxcClient(TestKeys.Read).ListGpusAsync();

        var gpu = Assert.Single(list.Gpus);
        Assert.Equal("sysfs", list.Source);
        Assert.Equal("580.159.04", list.DriverVersion);
        Assert.Contains(list.Notes, note => note.Contains("nvidia-smi is not installed", StringComparison.Ordinal));
        Assert.Equal("NVIDIA H100 80GB HBM3", gpu.Name);
        Assert.Equal(HostFixtures.H100Uuid, gpu.Uuid);
        Assert.Equal("0000:00:06.0", gpu.PciAddress);
        Assert.Equal("2330", gpu.DeviceId);
        Assert.Equal("16c1", gpu.SubsystemDeviceId);
        Assert.Equal("nvidia", gpu.KernelDriver);
        Assert.Null(gpu.NumaNode);
        Assert.Equal(0, gpu.Minor);
        Assert.Equal("96.00.da.00.0c", gpu.Vbios);
        var node = Assert.Single(gpu.DeviceNodes);
        Assert.Equal(("/dev/nvidia0", 195, 0, "0666", true), (node.Path, node.Major, node.Minor, node.Mode, node.MajorMatches));
        Assert.False(gpu.Nvenc.Supported);
        Assert.Null(gpu.Nvenc.Limit);
        Assert.Equal(["sysfs", "procfs"], gpu.Sources);
    }

    [Fact]
    public async Task TheH100HostDriverReportsTheOpenModuleAndTheMajorsAssignedAtBoot()
    {
        using var factory = new GpuLxcApiFactory(HostFixtures.H100());

        var driver = await factory.CreateGpuLxcClient().GetHostDriverAsync();

        Assert.Equal("580.159.04", driver.LoadedVersion);
        Assert.Equal(DriverFlavor.Open, driver.Flavor);
        Assert.True(driver.DeviceNodesComplete);
        var nodes = driver.DeviceNodes.ToDictionary(n => n.Path);
        Assert.Equal(238, nodes["/dev/nvidia-uvm"].Major);
        Assert.Equal(238, nodes["/dev/nvidia-uvm-tools"].Major);
        Assert.Equal(241, nodes["/dev/nvidia-caps/nvidia-cap1"].Major);
        Assert.Equal("0400", nodes["/dev/nvidia-caps/nvidia-cap1"].Mode);
        Assert.Equal(241, nodes["/dev/nvidia-caps/nvidia-cap2"].ExpectedMajor);
        Assert.False(nodes["/dev/nvidia-modeset"].Present);
        Assert.False(nodes["/dev/nvidia-modeset"].Required);
        Assert.True(driver.Modules.Single(m => m.Name == "nvidia_uvm").Loaded);
        Assert.False(driver.Modules.Single(m => m.Name == "nvidia_modeset").Loaded);
    }

    [Fact]
    public async Task TheSeedHostIsDescribedThroughNvidiaSmiWithTheConsumerLimitOfItsDriver()
    {
        using var factory = new GpuLxcApiFactory(HostFixtures.Seed());

        var list = await factory.CreateGpuLxcClient().ListGpusAsync();

        var gpu = Assert.Single(list.Gpus);
        Assert.Equal("nvidia-smi", list.Source);
        Assert.Equal("GeForce GTX 760", gpu.Name);
        Assert.Equal(HostFixtures.SeedUuid, gpu.Uuid);
        Assert.Equal("1462", gpu.SubsystemVendorId);
        Assert.True(gpu.Nvenc.Supported);
        Assert.Equal(2, gpu.Nvenc.Limit);
        Assert.Equal(NvencLimitSource.DriverTable, gpu.Nvenc.LimitSource);
        Assert.Equal("host", gpu.Nvenc.LimitScope);
        Assert.Equal(1, gpu.Nvenc.SessionCount);
        Assert.Equal(59, gpu.Nvenc.AverageFps);
        Assert.Equal(7, gpu.Nvenc.UtilizationPercent);
    }

    [Fact]
    public async Task TheSeedHostDriverReportsUvmOnMajor243AndModeset()
    {
        using var factory = new GpuLxcApiFactory(HostFixtures.Seed());

        var driver = await factory.CreateGpuLxcClient().GetHostDriverAsync();

        Assert.Equal(DriverFlavor.Proprietary, driver.Flavor);
        Assert.Equal("418.152.00", driver.InstalledVersion);
        Assert.Equal("418.152.00", driver.UserspaceVersion);
        Assert.False(driver.RebootRequired);
        var nodes = driver.DeviceNodes.ToDictionary(n => n.Path);
        Assert.Equal(243, nodes["/dev/nvidia-uvm"].Major);
        Assert.True(nodes["/dev/nvidia-modeset"].Present);
        Assert.Equal(254, nodes["/dev/nvidia-modeset"].Minor);
        Assert.True(driver.ModulesLoad.Nvidia);
        Assert.True(driver.ModulesLoad.NvidiaUvm);
        Assert.Equal(["/etc/udev/rules.d/70-nvidia.rules"], driver.UdevRules);
        Assert.True(driver.Headers.Present);
    }

    [Fact]
    public async Task TheOperatorsLimitOverrideWins()
    {
        using var factory = new GpuLxcApiFactory(HostFixtures.Seed());
        factory.Settings["GpuLxc:Nvenc:LimitOverride"] = "5";

        var gpu = Assert.Single((await factory.CreateGpuLxcClient().ListGpusAsync()).Gpus);

        Assert.Equal(5, gpu.Nvenc.Limit);
        Assert.Equal(NvencLimitSource.Override, gpu.Nvenc.LimitSource);
    }

    [Theory]
    [InlineData(HostFixtures.SeedUuid)]
    [InlineData("gpu-5E0F4A2C-1B6E-3F7D-9A8B-0C1D2E3F4A5B")]
    [InlineData("0000:03:00.0")]
    [InlineData("03:00.0")]
    [InlineData("00000000:03:00.0")]
    [InlineData("0")]
    public async Task GettingAGpuFindsItByUuidPciAddressOrIndex(string gpuId)
    {
        using var factory = new GpuLxcApiFactory(HostFixtures.Seed());

        var gpu = await factory.CreateGpuLxcClient().GetGpuAsync(gpuId);

        Assert.Equal("0000:03:00.0", gpu.PciAddress);
    }

    [Fact]
    public async Task GettingAnUnknownGpuIsNotFoundProblem()
    {
        using var factory = new GpuLxcApiFactory(HostFixtures.Seed());

        var error = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => factory.CreateGpuLxcClient().GetGpuAsync("7"));

        Assert.Equal(404, error.StatusCode);
        Assert.Contains("'7'", error.Result.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GPU-nope")]
    [InlineData("nvidia0")]
    [InlineData("1234")]
    public async Task GettingAGpuByAMalformedIdIsAValidationProblem(string gpuId)
    {
        using var factory = new GpuLxcApiFactory(HostFixtures.Seed());

        var error = await Assert.ThrowsAsync<GpuLxcApiException<HttpValidationProblemDetails>>(() => factory.CreateGpuLxcClient().GetGpuAsync(gpuId));

        Assert.Equal(400, error.StatusCode);
        Assert.True(error.Result.Errors.ContainsKey("gpuId"));
    }

    [Fact]
    public async Task TheTopologyIsCachedUntilRefreshIsAsked()
    {
        using var factory = new GpuLxcApiFactory(HostFixtures.Seed());
        var client = factory.CreateGpuLxcClient();
        Assert.Single((await client.ListGpusAsync()).Gpus);

        factory.Host.Without("/sys/bus/pci/devices/0000:03:00.0").Without("/proc/driver/nvidia/gpus").WithCommand("nvidia-smi", "exit 0");

        Assert.Single((await client.ListGpusAsync()).Gpus);
        Assert.Empty((await client.ListGpusAsync(refresh: true)).Gpus);
    }

    [Fact]
    public async Task AGpuBoundToNouveauIsListedWithWhyContainersCannotUseIt()
    {
        using var factory = new GpuLxcApiFactory(HostFixtures.Nouveau());

        var list = await factory.CreateGpuLxcClient().ListGpusAsync();

        var gpu = Assert.Single(list.Gpus);
        Assert.Equal("nouveau", gpu.KernelDriver);
        Assert.Null(gpu.Uuid);
        Assert.Null(list.DriverVersion);
        Assert.Empty(gpu.DeviceNodes);
        Assert.Contains(gpu.Notes, note => note.Contains("'nouveau'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnInstalledDriverNewerThanTheLoadedOneMeansRebootRequired()
    {
        using var factory = new GpuLxcApiFactory(HostFixtures.UpgradedNotRebooted());

        var driver = await factory.CreateGpuLxcClient().GetHostDriverAsync();

        Assert.Equal("418.152.00", driver.LoadedVersion);
        Assert.Equal("418.226.00", driver.InstalledVersion);
        Assert.True(driver.RebootRequired);
    }

    [Fact]
    public async Task ANodeWhoseMajorDiffersFromProcDevicesIsFlagged()
    {
        var tree = HostFixtures.Seed().Without("/dev/nvidia-uvm").WithCharDevice("/dev/nvidia-uvm", 240, 0);
        using var factory = new GpuLxcApiFactory(tree);

        var driver = await factory.CreateGpuLxcClient().GetHostDriverAsync();

        var uvm = driver.DeviceNodes.Single(n => n.Path == "/dev/nvidia-uvm");
        Assert.Equal((240, 243, false), (uvm.Major, uvm.ExpectedMajor, uvm.MajorMatches));
        Assert.False(driver.DeviceNodesComplete);
    }

    [Fact]
    public async Task ReadingEveryInventoryRouteChangesNoFileOfTheHost()
    {
        using var factory = new GpuLxcApiFactory(HostFixtures.Seed());
        var client = factory.CreateGpuLxcClient();
        var before = Snapshot(factory.Host.Root);

        await client.GetHostAsync();
        await client.ListGpusAsync(refresh: true);
        await client.GetGpuAsync("0");
        await client.GetHostDriverAsync();
        await client.GetDiagnosticsAsync();

        Assert.Equal(before, Snapshot(factory.Host.Root));
    }

    private static List<string> Snapshot(string root) =>
        Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories)
            .Order(StringComparer.Ordinal)
            .Select(path => $"{path} {File.GetLastWriteTimeUtc(path):O} {(File.Exists(path) && new FileInfo(path).LinkTarget is null ? new FileInfo(path).Length : -1)}")
            .ToList();
}
