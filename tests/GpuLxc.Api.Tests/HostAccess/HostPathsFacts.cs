using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Tests.HostAccess;

public sealed class HostPathsFacts
{
    [Theory]
    [InlineData("/", "/proc/driver/nvidia/version", "/proc/driver/nvidia/version")]
    [InlineData("/srv/host", "/proc/driver/nvidia/version", "/srv/host/proc/driver/nvidia/version")]
    [InlineData("/srv/host", "/etc/pve/lxc/100.conf", "/srv/host/etc/pve/lxc/100.conf")]
    public void Resolve_JoinsTheHostPathUnderTheRoot(string root, string hostPath, string expected)
    {
        Assert.Equal(expected, HostPaths.Resolve(root, hostPath));
    }

    [Theory]
    [InlineData("etc/passwd")]
    [InlineData("/etc/pve/lxc/../../shadow")]
    [InlineData("/..")]
    [InlineData("/etc/pve\0/x")]
    public void Resolve_RefusesPathsThatCouldLeaveTheRoot(string hostPath)
    {
        Assert.Throws<ArgumentException>(() => HostPaths.Resolve("/srv/host", hostPath));
    }
}
