using GpuLxc.Api.Inventory;

namespace GpuLxc.Api.Tests.Inventory;

public sealed class NvencPolicyFacts
{
    [Theory]
    [InlineData("418.152.00", 2)]
    [InlineData("470.256.02", 3)]
    [InlineData("525.147.05", 3)]
    [InlineData("530.30.02", 5)]
    [InlineData("545.29.06", 5)]
    [InlineData("550.54.14", 8)]
    [InlineData("580.119.02", 8)]
    [InlineData("580.159.04", 8)]
    [InlineData("590.44.01", 12)]
    [InlineData("595.45.04", 12)]
    public void Describe_GivesTheConsumerLimitOfTheDriverBranch(string driver, int limit)
    {
        var nvenc = NvencPolicy.Describe("NVIDIA GeForce RTX 3060", "geforceRtx", "2504", driver, null);

        Assert.True(nvenc.Supported);
        Assert.Equal(limit, nvenc.Limit);
        Assert.Equal(NvencLimitSource.DriverTable, nvenc.LimitSource);
        Assert.Equal("host", nvenc.LimitScope);
    }

    [Theory]
    [InlineData("NVIDIA H100 80GB HBM3", "2330")]
    [InlineData("NVIDIA A100-SXM4-40GB", "20b0")]
    [InlineData("NVIDIA GeForce GT 1030", "1d01")]
    [InlineData("NVIDIA A30", "20b7")]
    [InlineData(null, "2331")]
    public void Describe_ReportsNoEncoder_OnComputeGpusAndTheGt1030(string? name, string deviceId)
    {
        var nvenc = NvencPolicy.Describe(name, "nvidia", deviceId, "580.159.04", limitOverride: 10);

        Assert.False(nvenc.Supported);
        Assert.Null(nvenc.Limit);
    }

    [Fact]
    public void Describe_LeavesProfessionalCardsUnrestricted()
    {
        var nvenc = NvencPolicy.Describe("NVIDIA RTX A4000", "nvidiaRtx", "24b0", "550.54.14", null);

        Assert.True(nvenc.Supported);
        Assert.Null(nvenc.Limit);
        Assert.Equal("none", nvenc.LimitScope);
    }

    [Fact]
    public void Describe_LimitsEntryLevelProfessionalModels()
    {
        var nvenc = NvencPolicy.Describe("NVIDIA T400 4GB", "nvidiaRtx", "1ff2", "550.54.14", null);

        Assert.Equal(8, nvenc.Limit);
        Assert.Equal(NvencLimitSource.Model, nvenc.LimitSource);
    }

    [Fact]
    public void Describe_RecognisesConsumerCardsByName_WhenNvmlGaveNoBrand()
    {
        Assert.Equal(3, NvencPolicy.Describe("GeForce GTX 1660 SUPER", "unknown", "21c4", "470.256.02", null).Limit);
    }

    [Fact]
    public void Describe_LetsTheOverrideWin_WhenTheGpuHasAnEncoder()
    {
        var nvenc = NvencPolicy.Describe("NVIDIA RTX A4000", "nvidiaRtx", "24b0", "550.54.14", 4);

        Assert.Equal((4, NvencLimitSource.Override), (nvenc.Limit, nvenc.LimitSource));
    }

    [Fact]
    public void Describe_LetsTheOverrideWin_OverTheR590Limit()
    {
        var nvenc = NvencPolicy.Describe("NVIDIA GeForce RTX 3060", "geforceRtx", "2504", "590.44.01", 8);

        Assert.Equal((8, NvencLimitSource.Override), (nvenc.Limit, nvenc.LimitSource));
    }

    [Fact]
    public void Describe_SaysTheLimitIsUnknown_WithoutADriverVersion()
    {
        var nvenc = NvencPolicy.Describe("NVIDIA GeForce RTX 3060", "geforceRtx", "2504", null, null);

        Assert.Null(nvenc.Limit);
        Assert.Contains("could not be read", nvenc.Reason, StringComparison.Ordinal);
    }
}
