using GpuLxc.Api.Guardian;
using GpuLxc.Api.Inventory;

namespace GpuLxc.Api.Tests.Guardian;

public sealed class DriverCompatibilityFacts
{
    [Theory]
    [InlineData("1187", GpuGeneration.Kepler)] // GeForce GTX 760, the seed's card
    [InlineData("0x06c0", GpuGeneration.Fermi)] // GTX 480
    [InlineData("13c2", GpuGeneration.Maxwell)] // GTX 970
    [InlineData("1b80", GpuGeneration.Pascal)] // GTX 1080
    [InlineData("1db4", GpuGeneration.Volta)] // V100
    [InlineData("2184", GpuGeneration.Turing)] // GTX 1660
    [InlineData("2504", GpuGeneration.Ampere)] // RTX 3060, the demo's card
    [InlineData("2330", GpuGeneration.Hopper)] // H100
    [InlineData("2684", GpuGeneration.Ada)] // RTX 4090
    [InlineData("2b85", GpuGeneration.Blackwell)] // RTX 5090
    [InlineData("zz", GpuGeneration.Unknown)]
    public void FromDeviceId_NamesTheArchitecture_ForKnownChips(string deviceId, GpuGeneration generation) =>
        Assert.Equal(generation, GpuGenerations.FromDeviceId(deviceId));

    [Theory]
    [InlineData(GpuGeneration.Fermi, 390)]
    [InlineData(GpuGeneration.Kepler, 470)]
    [InlineData(GpuGeneration.Maxwell, 580)]
    [InlineData(GpuGeneration.Pascal, 580)]
    [InlineData(GpuGeneration.Volta, 580)]
    [InlineData(GpuGeneration.Turing, null)]
    public void LastBranch_EndsEachOldGeneration_WhereNvidiaEndedIt(GpuGeneration generation, int? last) =>
        Assert.Equal(last, GpuGenerations.LastBranch(generation));

    [Theory]
    [InlineData("nvidia-driver-590-open", 590, true)]
    [InlineData("nvidia-tesla-470-driver", 470, false)]
    [InlineData("nvidia-legacy-390xx-driver", 390, false)]
    [InlineData("nvidia-headless-580-server", 580, false)]
    [InlineData("nvidia-open-kernel-dkms", null, true)]
    [InlineData("nvidia-driver", null, false)]
    public void PackageBranch_ReadsTheBranchAndFlavor_FromThePackageName(string package, int? branch, bool open)
    {
        Assert.Equal(branch, DriverCompatibility.PackageBranch(package));
        Assert.Equal(open, DriverCompatibility.IsOpenPackage(package));
    }

    [Theory]
    [InlineData("6.17.4-1-pve", "580.95.05", "needs driver 580.105.08 or later")]
    [InlineData("6.18.44-fc-v657-gpu", "580.95.05", "needs driver 580.105.08 or later")]
    [InlineData("7.0.9-1-cachyos", "580.119.02", "580.119.02 and earlier fail to build")]
    [InlineData("7.1.2-1", "580.142", "needs driver 580.159.04 or later")]
    public void CheckKernel_RefusesAVersionKnownNotToBuild_ForThatKernelAndLater(string kernel, string version, string message)
    {
        var finding = Assert.Single(DriverCompatibility.CheckKernel(kernel, version));

        Assert.Equal("kernelFloor", finding.Rule);
        Assert.Contains(message, finding.Message, StringComparison.Ordinal);
        Assert.StartsWith("https://", finding.Source, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("6.17.4-1-pve", "580.105.08")]
    [InlineData("6.16.1-1-pve", "580.95.05")]
    [InlineData("7.0.9-1-cachyos", "580.126.09")]
    [InlineData("7.1.2-1", "580.159.04")]
    [InlineData("7.1.2-1", "590.48.01")]
    [InlineData("6.17.4-1-pve", "570.195.03")] // floors are known for R580 only: other branches are not guessed at
    public void CheckKernel_Passes_WhenNoKnownRuleBreaks(string kernel, string version) =>
        Assert.Empty(DriverCompatibility.CheckKernel(kernel, version));

    [Fact]
    public void CheckGpus_NamesTheLastBranch_WhenANewerBranchCannotDriveTheGpu()
    {
        var finding = Assert.Single(DriverCompatibility.CheckGpus([Gpu("1187", "GeForce GTX 760")], 580, open: false));

        Assert.Equal("gpuBranch", finding.Rule);
        Assert.Contains("last driver branch is 470", finding.Message, StringComparison.Ordinal);
        Assert.Contains("470", finding.Fix, StringComparison.Ordinal);
        Assert.Empty(DriverCompatibility.CheckGpus([Gpu("1187", "GeForce GTX 760")], 470, open: false));
        Assert.Empty(DriverCompatibility.CheckGpus([Gpu("1b80", "GeForce GTX 1080")], 580, open: false));
        Assert.Contains("last driver branch is 580", Assert.Single(DriverCompatibility.CheckGpus([Gpu("1b80", "GeForce GTX 1080")], 590, open: false)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckGpus_RefusesTheOpenModule_BeforeTuring()
    {
        Assert.Equal("openModule", Assert.Single(DriverCompatibility.CheckGpus([Gpu("1b80", "GeForce GTX 1080")], 580, open: true)).Rule);
        Assert.Empty(DriverCompatibility.CheckGpus([Gpu("2184", "GeForce GTX 1660")], 590, open: true));
        Assert.Empty(DriverCompatibility.CheckGpus([Gpu("1187", "GeForce GTX 760") with { KernelDriver = "vfio-pci" }], 590, open: true));
    }

    private static Gpu Gpu(string deviceId, string name) =>
        new(0, null, "0000:01:00.0", name, "geforce", "10de", deviceId, null, null, "nvidia", null, 0, null, [],
            new NvencInfo(true, null, NvencLimitSource.None, "none", "", null, null, null, null, []), [], []);
}
