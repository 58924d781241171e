using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Tests.Support;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Tests.HostAccess;

public sealed class HostFileSystemFacts : IDisposable
{
    private readonly HostTree _tree = new();

    public void Dispose() => _tree.Dispose();

    [Fact]
    public void Stat_ReadsTheRealDeviceNumbersOfDevNull()
    {
        var stat = new HostFileSystem(Options.Create(new HostAccessOptions())).Stat("/dev/null");

        Assert.NotNull(stat);
        Assert.Equal((HostFileType.CharacterDevice, 1u, 3u, "0666"), (stat.Type, stat.Major, stat.Minor, stat.OctalMode));
    }

    [Fact]
    public void Stat_ReadsANodeMadeUnderThePreparedRoot()
    {
        _tree.WithCharDevice("/dev/nvidia-uvm", 511, 0, mode: "660");

        var stat = Files().Stat("/dev/nvidia-uvm");

        Assert.Equal((HostFileType.CharacterDevice, 511u, 0u, "0660"), (stat!.Type, stat.Major, stat.Minor, stat.OctalMode));
    }

    [Fact]
    public void Stat_ReturnsNull_WhenThePathDoesNotExist()
    {
        Assert.Null(Files().Stat("/dev/nvidia9"));
    }

    [Fact]
    public void Stat_DoesNotFollowASymlink()
    {
        _tree.WithSymlink("/sys/bus/pci/devices/0000:01:00.0/driver", "../../../bus/pci/drivers/nvidia");

        Assert.Equal(HostFileType.SymbolicLink, Files().Stat("/sys/bus/pci/devices/0000:01:00.0/driver")!.Type);
        Assert.Equal("nvidia", Files().ReadLinkName("/sys/bus/pci/devices/0000:01:00.0/driver"));
    }

    [Fact]
    public void ListDirectory_ReturnsHostPaths_Sorted()
    {
        _tree.WithFile("/etc/modules-load.d/b.conf", "").WithFile("/etc/modules-load.d/a.conf", "").WithFile("/etc/modules-load.d/c.txt", "");

        Assert.Equal(["/etc/modules-load.d/a.conf", "/etc/modules-load.d/b.conf"], Files().ListDirectory("/etc/modules-load.d", "*.conf"));
        Assert.Empty(Files().ListDirectory("/etc/nothing"));
    }

    [Fact]
    public void Nvml_IsUnavailableWithAReason_WhenTheRootIsNotSlash()
    {
        using var nvml = new NvmlLibrary(Options.Create(new HostAccessOptions { Root = _tree.Root }));

        Assert.Contains(_tree.Root, nvml.UnavailableReason, StringComparison.Ordinal);
        Assert.Empty(nvml.Devices());
        Assert.Null(nvml.Encoder(0));
    }

    private HostFileSystem Files() => new(Options.Create(new HostAccessOptions { Root = _tree.Root }));
}
