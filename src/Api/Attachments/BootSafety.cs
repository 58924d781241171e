using GpuLxc.Api.Drivers;
using GpuLxc.Api.Inventory;

namespace GpuLxc.Api.Attachments;

/// <summary>
/// Which of the nodes to pass a <c>devN</c> entry may name (design §4, boot-time truth). Proxmox <c>stat()</c>s every
/// <c>devN</c> path when it starts a container and refuses the start when one is missing; the nvidia modules do not
/// create their nodes, so a node is there after a reboot only when a udev rule or boot unit recreates it
/// (<see cref="BootNodeSources"/>). The rule, per node:
/// <list type="bullet">
/// <item>recreated at boot: a <c>devN</c> entry;</item>
/// <item>not recreated, and one the container cannot use the GPU without (<c>/dev/nvidiactl</c>, <c>/dev/nvidiaN</c>):
/// still a <c>devN</c> entry, with a warning — a container that starts without them has no GPU at all, and a refused
/// start names the missing node where a GPU-less start hides it;</item>
/// <item>not recreated, and one that is made on first use (<c>nvidia-uvm</c>, <c>nvidia-uvm-tools</c>,
/// <c>nvidia-modeset</c>, <c>nvidia-caps/*</c>): an optional bind mount with a per-node allow rule, which LXC skips when
/// the node is missing, and a warning.</item>
/// </list>
/// </summary>
/// <param name="DeviceEntries">Nodes to pass as <c>devN</c> entries.</param>
/// <param name="OptionalMounts">Nodes to pass as optional raw mounts.</param>
/// <param name="Warnings">One per node nothing recreates at boot.</param>
public sealed record BootSafety(IReadOnlyList<DeviceNode> DeviceEntries, IReadOnlyList<DeviceNode> OptionalMounts, IReadOnlyList<AttachmentWarning> Warnings)
{
    /// <summary>Splits <paramref name="nodes"/> by the rule above; <paramref name="boot"/> null (unknown) counts every node as recreated.</summary>
    public static BootSafety Of(IReadOnlyList<DeviceNode> nodes, BootNodeSources? boot)
    {
        if (boot is null)
        {
            return new BootSafety(nodes, [], []);
        }

        var entries = new List<DeviceNode>();
        var optional = new List<DeviceNode>();
        var warnings = new List<AttachmentWarning>();
        foreach (var node in nodes)
        {
            if (boot.For(node.Path) is not null)
            {
                entries.Add(node);
            }
            else if (IsEssential(node.Path))
            {
                entries.Add(node);
                warnings.Add(new AttachmentWarning(node.Path,
                    $"Nothing on the host recreates {node.Path} at boot (no udev rule or enabled boot unit runs `{CreateCommand(node.Path)}`): after a reboot " +
                    "Proxmox refuses to start the container until something creates it. It is a devN entry all the same: without it the container has no GPU.",
                    Fix(node.Path)));
            }
            else
            {
                optional.Add(node);
                warnings.Add(new AttachmentWarning(node.Path,
                    $"Nothing on the host recreates {node.Path} at boot (no udev rule or enabled boot unit runs `{CreateCommand(node.Path)}`): a devN entry " +
                    "would stop Proxmox from starting the container after a reboot, so it is passed as an optional bind mount, which the container starts without.",
                    Fix(node.Path) + " Then PUT again to pass it as a devN entry."));
            }
        }

        return new BootSafety(entries, optional, warnings);
    }

    /// <summary>The control node and the GPU nodes: the container has no GPU without them.</summary>
    public static bool IsEssential(string path) =>
        path == DeviceNodeScanner.Control || (path.StartsWith("/dev/nvidia", StringComparison.Ordinal) && path.Length > "/dev/nvidia".Length && path["/dev/nvidia".Length..].All(char.IsAsciiDigit));

    /// <summary>The command that creates <paramref name="path"/> (nvidia-modprobe's options; nvidia-smi for the control and GPU nodes).</summary>
    public static string CreateCommand(string path) => path switch
    {
        DeviceNodeScanner.Uvm or DeviceNodeScanner.UvmTools => "nvidia-modprobe -c0 -u",
        DeviceNodeScanner.Modeset => "nvidia-modprobe -c0 -m",
        _ when path.StartsWith(DeviceNodeScanner.CapsDirectory + "/", StringComparison.Ordinal) => "nvidia-modprobe -f /proc/driver/nvidia/capabilities/mig/config",
        _ => "nvidia-smi -L",
    };

    private static string Fix(string path) => path.StartsWith(DeviceNodeScanner.CapsDirectory + "/", StringComparison.Ordinal)
        ? $"Have {path} created at boot: a udev rule or enabled boot unit that runs `{CreateCommand(path)}`."
        : $"Have {path} created at boot: a udev rule or enabled boot unit that runs `{CreateCommand(path)}` (the host driver install writes " +
          $"{HostDriverInstallWork.UdevRuleFile} and {HostDriverInstallWork.BootUnitName}, which do).";
}
