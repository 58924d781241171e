using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.Tests.Support;

namespace GpuLxc.Api.Tests.Infrastructure;

public sealed class DataDirectoryFacts : IDisposable
{
    private readonly string _path = Directory.CreateTempSubdirectory("gpulxc-dir-").FullName;

    public void Dispose() => HostTree.DeleteDirectory(_path);

    [Fact]
    public void Constructor_ThrowsNamingTheDirectory_WhenAnotherOwnerHoldsIt()
    {
        using var first = new DataDirectory(_path);

        var refused = Assert.Throws<IOException>(() => new DataDirectory(_path));

        Assert.Contains(Path.Join(_path, DataDirectory.LockFileName), refused.Message, StringComparison.Ordinal);
        Assert.Contains("another GpuLxc uses this data directory", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_TakesTheDirectory_WhenTheOwnerBeforeDisposedIt()
    {
        new DataDirectory(_path).Dispose();

        using var second = new DataDirectory(_path);

        Assert.Equal(DataDirectory.FileMode, File.GetUnixFileMode(second.File(DataDirectory.LockFileName)));
    }
}
