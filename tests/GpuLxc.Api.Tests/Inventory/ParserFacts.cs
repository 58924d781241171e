using GpuLxc.Api.Inventory;
using GpuLxc.Api.Tests.Support;

namespace GpuLxc.Api.Tests.Inventory;

/// <summary>The parsers, on the real H100 captures and the seed host's banners.</summary>
public sealed class ParserFacts
{
    [Theory]
    [InlineData("NVRM version: NVIDIA UNIX x86_64 Kernel Module  418.152.00  Thu May  7 20:44:36 CDT 2020\n", "418.152.00", DriverFlavor.Proprietary)]
    [InlineData("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build  (nixbld@)  \n", "580.159.04", DriverFlavor.Open)]
    [InlineData("NVRM version: NVIDIA UNIX Open Kernel Module for aarch64  550.54.14  Release Build  (dvs-builder@U16-I3-B03-4-3)  Thu Feb 22 01:25:25 UTC 2024\n", "550.54.14", DriverFlavor.Open)]
    [InlineData("NVRM version: NVIDIA UNIX x86_64 Kernel Module  340.108  Wed Dec 11 15:00:06 PST 2019\n", "340.108", DriverFlavor.Proprietary)]
    public void ParseDriverVersion_ReadsBothBanners(string banner, string version, DriverFlavor flavor)
    {
        Assert.Equal((version, flavor), NvidiaProcFs.ParseDriverVersion(banner));
    }

    [Fact]
    public void ParseDriverVersion_ReadsTheH100Capture()
    {
        Assert.Equal(("580.159.04", DriverFlavor.Open), NvidiaProcFs.ParseDriverVersion(Captures.H100Section("/proc/driver/nvidia/version")));
    }

    [Fact]
    public void ParseDriverVersion_ReturnsNull_ForText()
    {
        Assert.Null(NvidiaProcFs.ParseDriverVersion("no driver here"));
    }

    [Fact]
    public void ParseCharacterDevices_ReadsTheH100CaptureWithoutTheBlockSection()
    {
        var majors = NvidiaProcFs.ParseCharacterDevices(Captures.H100Section("/proc/devices"));

        Assert.Equal(195u, majors["nvidia"]);
        Assert.Equal(195u, majors["nvidiactl"]);
        Assert.Equal(238u, majors["nvidia-uvm"]);
        Assert.Equal(241u, majors["nvidia-caps"]);
        Assert.Equal(242u, majors["nvidia-caps-imex-channels"]);
        Assert.False(majors.ContainsKey("virtblk"));
    }

    [Fact]
    public void ParseKeyValues_ReadsTheH100GpuInformation()
    {
        var values = NvidiaProcFs.ParseKeyValues(Captures.H100Section("/proc/driver/nvidia/gpus"));

        Assert.Equal("NVIDIA H100 80GB HBM3", values["Model"]);
        Assert.Equal("GPU-46a4012c-1313-b398-522d-4d20fa41674c", values["GPU UUID"]);
        Assert.Equal("0", values["Device Minor"]);
        Assert.Equal("0000:00:06.0", values["Bus Location"]);
    }

    [Fact]
    public void ParseModules_ReadsTheH100Lsmod()
    {
        Assert.Equal(["nvidia", "nvidia_uvm"], NvidiaProcFs.ParseModules(Captures.H100Section("lsmod")).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void ParseModulesLoad_SkipsCommentsAndBlankLines()
    {
        Assert.Equal(["nvidia", "nvidia_uvm", "vfio"], NvidiaProcFs.ParseModulesLoad("# Nvidia modules\nnvidia\n\n nvidia_uvm # CUDA\n; old\nvfio\n"));
    }

    [Theory]
    [InlineData("0000:00:06.0", "0000:00:06.0")]
    [InlineData("00000000:00:06.0", "0000:00:06.0")]
    [InlineData("00000000:3B:00.0", "0000:3b:00.0")]
    [InlineData("01:00.0", "0000:01:00.0")]
    [InlineData("01:00.8", null)]
    [InlineData("GPU-1", null)]
    [InlineData("", null)]
    public void PciAddressNormalize_WritesOneForm(string input, string? expected)
    {
        Assert.Equal(expected, PciAddress.Normalize(input));
    }

    [Fact]
    public void NvidiaSmiParse_ReadsRowsAndTreatsBracketsAsUnknown()
    {
        var rows = NvidiaSmiQuery.Parse(
            "0, GPU-46a4012c-1313-b398-522d-4d20fa41674c, NVIDIA H100 80GB HBM3, 00000000:00:06.0, 580.159.04, 96.00.DA.00.0C, 0, 0, 0, [N/A]\n" +
            "1, GPU-5e0f4a2c-1b6e-3f7d-9a8b-0c1d2e3f4a5b, NVIDIA GeForce RTX 3060, 00000000:01:00.0, 580.159.04, [N/A], 2, 60, 900, 14\n");

        Assert.Equal(2, rows.Count);
        Assert.Equal(("0000:00:06.0", "NVIDIA H100 80GB HBM3", (int?)null), (rows[0].PciAddress, rows[0].Name, rows[0].EncoderUtilization));
        Assert.Equal((2, 60, 14), (rows[1].EncoderSessions, rows[1].EncoderAverageFps, rows[1].EncoderUtilization));
        Assert.Null(rows[1].Vbios);
    }

    [Fact]
    public void ParseDkmsStatus_ReadsDkms2AndDkms3Lines()
    {
        var entries = HostDriverReader.ParseDkmsStatus(
            "nvidia/580.159.04, 6.8.12-4-pve, x86_64: installed\n" +
            "nvidia, 470.256.02, 5.15.0-1-amd64, x86_64: installed (original_module exists)\n" +
            "nvidia/580.159.04: added\n").ToList();

        Assert.Equal(new DkmsEntry("nvidia", "580.159.04", "6.8.12-4-pve", "x86_64", "installed"), entries[0]);
        Assert.Equal(new DkmsEntry("nvidia", "470.256.02", "5.15.0-1-amd64", "x86_64", "installed (original_module exists)"), entries[1]);
        Assert.Equal(new DkmsEntry("nvidia", "580.159.04", null, null, "added"), entries[2]);
    }
}
