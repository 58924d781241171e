using System.Globalization;
using GpuLxc.Api.Containers.Config;
using GpuLxc.Api.Inventory;

namespace GpuLxc.Api.Attachments;

/// <summary>A group of the container's own <c>/etc/group</c>: its name and its gid inside the container.</summary>
public sealed record GuestGroup(string Name, uint Gid);

/// <summary>
/// The host's <c>/etc/subgid</c> ranges for root (<c>root:100000:65536</c> or <c>0:…</c>): LXC maps a host gid into a
/// container through <c>newgidmap</c>, which refuses one outside them.
/// </summary>
public sealed record SubordinateGids(IReadOnlyList<(uint Start, uint Count)> Root)
{
    /// <summary>The ranges of root's lines in <paramref name="text"/>; other users' lines and lines that do not parse are left out.</summary>
    public static SubordinateGids Parse(string? text) => new((text ?? "").Split('\n')
        .Select(line => line.Trim().Split(':'))
        .Where(parts => parts.Length == 3 && parts[0] is "root" or "0")
        .Select(parts => uint.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var start) &&
                         uint.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var count) ? (start, count) : (0u, 0u))
        .Where(range => range.Item2 > 0)
        .ToList());

    /// <summary>Whether root may map host gid <paramref name="gid"/>.</summary>
    public bool Allows(uint gid) => Root.Any(r => gid >= r.Start && gid - r.Start < r.Count);
}

/// <summary>
/// Whether an unprivileged container can open the device nodes an attachment binds into it. A bind mount keeps the
/// host's owner, group and mode, and inside the user namespace the kernel checks them through the idmap: a host
/// uid or gid the idmap does not map shows as <c>nobody</c>/<c>nogroup</c> and grants nothing, so a node that is
/// root:video 0660 on the host opens for no one inside unless host gid video is mapped (or the node is 0666). Pure: it
/// judges the plan against the node stats, the idmap and the group it is given.
/// </summary>
public static class GuestAccess
{
    private const int OtherReadWrite = 0b000_000_110;
    private const int GroupReadWrite = 0b000_110_000;
    private const int OwnerReadWrite = 0b110_000_000;

    /// <summary>
    /// The plan, with a warning for each optional node (<c>nvidia-modeset</c>, <c>nvidia-uvm-tools</c>) it binds in that
    /// the container cannot open; <see cref="PlanException"/> (status <see cref="DriftStatus.NodesUnusable"/>) when it
    /// cannot open one the GPU needs (<c>nvidiactl</c>, <c>nvidia-uvm</c>, <c>nvidiaN</c>, and the DRM nodes the request
    /// names in <c>drm</c>, usually root:render 0660 on the host). A node opens when it is
    /// read-write for everyone (mode <c>…6</c>); for the members of <paramref name="group"/> when one is asked for (its gid
    /// inside must be the node's group seen through the idmap, with group read-write); with no group asked for, also
    /// when its group or owner is mapped and has read-write. Proxmox <c>devN</c> entries are left to their
    /// <c>gid=</c>/<c>mode=</c> (Proxmox makes those nodes inside, owned by the container's root), and the MIG capability
    /// nodes under <c>/dev/nvidia-caps</c> to the driver, which makes them read-only on purpose.
    /// <paramref name="idmap"/> null (a privileged container): nothing to check. <paramref name="subgid"/> null: the fix
    /// cannot say whether <c>/etc/subgid</c> needs a line.
    /// </summary>
    public static AttachmentPlan Check(AttachmentPlan plan, DeviceNodeScan nodes, IdMap? idmap, GuestGroup? group, SubordinateGids? subgid, string containerId)
    {
        if (idmap is null)
        {
            return plan;
        }

        var bound = plan.Lines.Where(l => l.Key == "lxc.mount.entry").Select(l => l.Value.Split(' ')[0]).ToHashSet(StringComparer.Ordinal);
        var unusable = nodes.Nodes.Concat(plan.DrmNodes)
            .Where(n => n is { Present: true, Mode: not null, Uid: not null, Gid: not null } && bound.Contains(n.Path))
            .Where(n => !n.Path.StartsWith(DeviceNodeScanner.CapsDirectory + "/", StringComparison.Ordinal) && !Opens(n, idmap, group))
            .ToList();
        var needed = unusable.Where(n => BootSafety.IsEssential(n.Path) || n.Path == DeviceNodeScanner.Uvm || RenderNodes.IsDrmPath(n.Path)).ToList();
        if (needed.Count > 0)
        {
            throw new PlanException($"Container {containerId} is unprivileged and {Who(idmap, group)}: {Seen(needed, idmap)}.", Fix(needed, idmap, group, subgid), DriftStatus.NodesUnusable);
        }

        return unusable.Count == 0 ? plan : plan with
        {
            Warnings = [.. plan.Warnings, .. unusable.Select(n => new AttachmentWarning(n.Path,
                $"Container {containerId} is unprivileged and {Who(idmap, group)}: {Seen([n], idmap)}. Programs that need it (modeset for display, uvm-tools for profilers) fail there.",
                Fix([n], idmap, group, subgid)))],
        };
    }

    private static string Who(IdMap idmap, GuestGroup? group) => group is null
        ? "no one in the container can open these nodes (a host id the idmap does not map grants nothing)"
        : $"the container's group {group.Name} (gid {group.Gid} inside{(idmap.GroupOnHost(group.Gid) is { } host ? $", host gid {host}" : "")}) cannot open these nodes";

    private static string Seen(IEnumerable<DeviceNode> nodes, IdMap idmap) => string.Join("; ", nodes.Select(n =>
        $"{n.Path} is {Name(n.Uid!.Value, "root")}:{n.Gid} {n.Mode} on the host and shows inside as " +
        $"{Inside(idmap.UserInside(n.Uid!.Value), "nobody")}:{Inside(idmap.GroupInside(n.Gid!.Value), "nogroup")} {n.Mode}"));

    /// <summary>The mode a <c>devN</c> entry gives a node for a group: the host's bits, with read-write for the group.</summary>
    public static string GroupMode(string? hostMode)
    {
        var bits = hostMode is null ? 0b110_110_000 : Convert.ToInt32(hostMode, 8) | GroupReadWrite | OwnerReadWrite;
        return "0" + Convert.ToString(bits & 0x1FF, 8).PadLeft(3, '0');
    }

    private static bool Opens(DeviceNode node, IdMap idmap, GuestGroup? group)
    {
        var mode = Convert.ToInt32(node.Mode, 8);
        if ((mode & OtherReadWrite) == OtherReadWrite)
        {
            return true;
        }

        var groupInside = idmap.GroupInside(node.Gid!.Value);
        if (group is not null)
        {
            return (mode & GroupReadWrite) == GroupReadWrite && groupInside == group.Gid;
        }

        return ((mode & GroupReadWrite) == GroupReadWrite && groupInside is not null) ||
               ((mode & OwnerReadWrite) == OwnerReadWrite && idmap.UserInside(node.Uid!.Value) is not null);
    }

    private static string Fix(List<DeviceNode> unusable, IdMap idmap, GuestGroup? group, SubordinateGids? subgid)
    {
        var hostGids = unusable.Select(n => n.Gid!.Value).Distinct().ToList();
        var map = "";
        if (hostGids is [var hostGid] && hostGid != 0)
        {
            var inside = group?.Gid ?? hostGid;
            var lines = string.Join(", ", idmap.WithGroup(inside, hostGid).Select(r => $"`lxc.idmap = {r}`"));
            var subgidLine = subgid is null ? $" (and `root:{hostGid}:1` in /etc/subgid unless it allows that gid already)"
                : subgid.Allows(hostGid) ? " (/etc/subgid already allows root to map it)" : $" and add `root:{hostGid}:1` to /etc/subgid";
            map = $"Map host gid {hostGid} to gid {inside} inside{(group is null ? "" : $" (group {group.Name})")}: replace the config's group lines " +
                  $"with {lines}{subgidLine}, keeping the user lines; then restart the container and put its users in that group. Or ";
        }

        if (unusable.All(n => RenderNodes.IsDrmPath(n.Path)))
        {
            return map + (map.Length == 0 ? "Make" : "make") + " the nodes usable by every user with a udev rule (`SUBSYSTEM==\"drm\", KERNEL==\"renderD*\", MODE=\"0666\"` " +
                   "in /etc/udev/rules.d/, then `udevadm trigger --subsystem-match=drm`), or give a Proxmox container the nodes as `devN` entries (mode dev), which set gid and mode inside. " +
                   "Then PUT the attachment again.";
        }

        return map + (map.Length == 0 ? "Make" : "make") + " the nodes usable by every user with the driver's option `options nvidia NVreg_DeviceFileMode=0666` in /etc/modprobe.d/nvidia.conf " +
               "(then `update-initramfs -u` and reboot), or give a Proxmox container the nodes as `devN` entries (mode dev), which set gid and mode inside. " +
               "Then PUT the attachment again.";
    }

    private static string Name(uint id, string zero) => id == 0 ? zero : id.ToString(CultureInfo.InvariantCulture);

    private static string Inside(uint? id, string unmapped) => id is { } value ? value.ToString(CultureInfo.InvariantCulture) : unmapped;
}
