using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Inventory;
using GpuLxc.Api.Tests.Support;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Tests.Inventory;

public sealed class LoadedDriverFacts
{
    private const string Banner = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.127.05  Tue Oct  8 03:22:07 UTC 2024\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14) \n";

    [Fact]
    public async Task ReadAsync_TakesTheBanner_WhenBothSourcesAnswer()
    {
        using var tree = new HostTree().WithFile(LoadedDriver.BannerPath, Banner).WithFile(LoadedDriver.SysfsPath, "550.120\n");

        var module = await Reader(tree).ReadAsync(CancellationToken.None);

        Assert.Equal(new LoadedModule("550.127.05", DriverFlavor.Proprietary, "550.120"), module);
    }

    [Fact]
    public async Task ReadAsync_ReadsTheOpenModule_OnTheH100Host()
    {
        using var tree = HostFixtures.H100();

        var module = await Reader(tree).ReadAsync(CancellationToken.None);

        Assert.Equal(new LoadedModule("580.159.04", DriverFlavor.Open, "580.159.04"), module);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("NVRM version: something this parser has never seen\n")]
    public async Task ReadAsync_TakesSysfs_WhenTheBannerIsMissingOrUnknown(string? banner)
    {
        using var tree = new HostTree().WithFile(LoadedDriver.SysfsPath, "550.127.05\n");
        if (banner is not null)
        {
            tree.WithFile(LoadedDriver.BannerPath, banner);
        }

        var module = await Reader(tree).ReadAsync(CancellationToken.None);

        Assert.Equal(new LoadedModule("550.127.05", null, "550.127.05"), module);
    }

    [Theory]
    [InlineData("")]
    [InlineData("550.127.05; reboot\n")]
    [InlineData("../../550\n")]
    public async Task ReadVersionAsync_ReturnsNull_WhenSysfsAloneHoldsNoVersion(string sysfs)
    {
        using var tree = new HostTree().WithFile(LoadedDriver.SysfsPath, sysfs);

        Assert.Null(await Reader(tree).ReadVersionAsync(CancellationToken.None));
    }

    [Fact]
    public async Task ReadVersionAsync_ReturnsNull_WhenNouveauDrivesTheGpu()
    {
        using var tree = HostFixtures.Nouveau();

        Assert.Null(await Reader(tree).ReadVersionAsync(CancellationToken.None));
    }

    [Fact]
    public async Task ReadVersionAsync_ReadsTheProprietaryModule_OnTheSeedHost()
    {
        using var tree = HostFixtures.Seed();

        Assert.Equal("418.152.00", await Reader(tree).ReadVersionAsync(CancellationToken.None));
    }

    private static LoadedDriver Reader(HostTree tree) =>
        new(new HostFileSystem(Options.Create(new HostAccessOptions { Root = tree.Root })));
}
