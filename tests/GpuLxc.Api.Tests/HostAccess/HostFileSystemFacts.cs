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
        Assert.Empty(nvml.Sample());
    }

    [Fact]
    public async Task WriteAtomicAsync_RemovesTheTemporaryFilesAKilledWriterLeft_OfThatFileOnly()
    {
        _tree.WithFile("/etc/pve/lxc/101.conf", "arch: amd64\n")
            .WithFile("/etc/pve/lxc/.101.conf.gpulxc-0123456789abcdef0123456789abcdef.tmp", "arch: amd64\nlxc.cgroup2")
            .WithFile("/etc/pve/lxc/.102.conf.gpulxc-fedcba9876543210fedcba9876543210.tmp", "partial")
            .WithFile("/etc/pve/lxc/.101.conf.swp", "an editor's");

        await Files().WriteAtomicAsync("/etc/pve/lxc/101.conf", "arch: amd64\nostype: debian\n"u8.ToArray(), CancellationToken.None);

        Assert.Equal(
            [".101.conf.swp", ".102.conf.gpulxc-fedcba9876543210fedcba9876543210.tmp", "101.conf"],
            Directory.GetFiles(_tree.PathOf("/etc/pve/lxc")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal("arch: amd64\nostype: debian\n", File.ReadAllText(_tree.PathOf("/etc/pve/lxc/101.conf")));
    }

    [Fact]
    public void ListTemporaryFiles_NamesTheFileEachWasMeantToReplace()
    {
        _tree.WithFile("/var/lib/lxc/web.1/config", "")
            .WithFile("/var/lib/lxc/web.1/.config.gpulxc-0123456789abcdef0123456789abcdef.tmp", "")
            .WithFile("/var/lib/lxc/web.1/.config.tmp", "");

        Assert.Equal(
            [("/var/lib/lxc/web.1/.config.gpulxc-0123456789abcdef0123456789abcdef.tmp", "/var/lib/lxc/web.1/config")],
            Files().ListTemporaryFiles("/var/lib/lxc/web.1"));
        Assert.Empty(Files().ListTemporaryFiles("/var/lib/lxc/none"));
    }

    private HostFileSystem Files() => new(Options.Create(new HostAccessOptions { Root = _tree.Root }));
}
