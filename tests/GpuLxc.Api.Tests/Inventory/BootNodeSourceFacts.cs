using GpuLxc.Api.Inventory;

namespace GpuLxc.Api.Tests.Inventory;

public sealed class BootNodeSourceFacts
{
    [Theory]
    [InlineData("/usr/bin/nvidia-modprobe -c0 -u", "/dev/nvidia-uvm-tools", true)]
    [InlineData("/usr/bin/nvidia-modprobe -c0 -u", "/dev/nvidia-modeset", false)]
    [InlineData("/usr/bin/nvidia-modprobe -u -c 1", "/dev/nvidia1", true)]
    [InlineData("/usr/bin/nvidia-modprobe -u -c 1", "/dev/nvidia0", false)]
    [InlineData("/usr/bin/nvidia-modprobe -c0 -m", "/dev/nvidia-modeset", true)]
    [InlineData("/bin/bash -c '/usr/bin/nvidia-smi -L && /bin/chmod 666 /dev/nvidia*'", "/dev/nvidia3", true)]
    [InlineData("/bin/bash -c '/usr/bin/nvidia-smi -L && /bin/chmod 666 /dev/nvidia*'", "/dev/nvidia-uvm", false)]
    [InlineData("/bin/sh -c 'mknod -m 666 /dev/nvidia-modeset c 195 254'", "/dev/nvidia-modeset", true)]
    [InlineData("/usr/bin/nvidia-modprobe -f /proc/driver/nvidia/capabilities/mig/config", "/dev/nvidia-caps/nvidia-cap1", true)]
    public void Commands_SayWhichNodesTheyCreate(string command, string node, bool creates) =>
        Assert.Equal(creates, BootNodeSourceReader.Commands("/etc/udev/rules.d/70-nvidia.rules", command).Any(s => s.Creates(node)));

    [Fact]
    public void Commands_FindNothing_WhenNoNvidiaToolRuns() =>
        Assert.Empty(BootNodeSourceReader.Commands("/etc/udev/rules.d/99-x.rules", "/bin/chmod 666 /dev/nvidia-uvm"));
}
