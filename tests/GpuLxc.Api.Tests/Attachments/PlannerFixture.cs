using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Inventory;

namespace GpuLxc.Api.Tests.Attachments;

/// <summary>The host facts the planner and drift Facts plan against: two RTX 3060 and the usual NVIDIA nodes.</summary>
internal static class PlannerFixture
{
    /// <summary>0000:01:00.0 (minor 0) and 0000:02:00.0 (minor 1).</summary>
    public static readonly IReadOnlyList<Gpu> TwoGpus = [Gpu(0, "0000:01:00.0"), Gpu(1, "0000:02:00.0")];

    public static Gpu Gpu(int minor, string address) => new(minor, $"GPU-{minor}", address, "NVIDIA GeForce RTX 3060", "geforceRtx", "10de", "2504",
        null, null, "nvidia", null, minor, null, [], NvencPolicy.Describe(null, "geforceRtx", "2504", "550.1", null), [], []);

    /// <summary>Both GPUs' nodes, nvidiactl, modeset, cap1 (major 511) and the uvm pair on <paramref name="uvmMajor"/>, group <paramref name="gid"/>.</summary>
    public static DeviceNodeScan Nodes(uint uvmMajor, uint gid = 0)
    {
        DeviceNode Node(string path, uint major, uint minor, string mode = "0666") =>
            new(path, true, false, HostFileType.CharacterDevice, major, minor, mode, 0, gid, major, true);
        return new DeviceNodeScan(
        [
            Node("/dev/nvidia-caps/nvidia-cap1", 511, 1, "0400"),
            Node("/dev/nvidia-modeset", 195, 254),
            Node("/dev/nvidia-uvm", uvmMajor, 0),
            Node("/dev/nvidia-uvm-tools", uvmMajor, 1),
            Node("/dev/nvidia0", 195, 0),
            Node("/dev/nvidia1", 195, 1),
            Node("/dev/nvidiactl", 195, 255),
        ], new Dictionary<string, uint>());
    }
}
