using System.Globalization;
using GpuLxc.Api.Hosts;
using GpuLxc.Api.Inventory;

namespace GpuLxc.Api.Attachments;

/// <summary>A GPU with DRM nodes, read now: its PCI address, who made it (<c>intel, i915</c>) and its nodes.</summary>
public sealed record DrmDevice(string PciAddress, string Label, IReadOnlyList<DrmNode> Nodes);

/// <summary>One DRM node to pass: the stable link it is named by on the host, what the link points to now, and its name inside.</summary>
/// <param name="Node">The node's stat, keyed by its <c>/dev/dri/by-path</c> link (what the config names).</param>
/// <param name="ResolvesTo">The node the link points to now, e.g. <c>/dev/dri/renderD129</c>.</param>
/// <param name="InsidePath">Where it shows inside the container.</param>
public sealed record PlannedDrmNode(DeviceNode Node, string ResolvesTo, string InsidePath);

/// <summary>The DRM part of a plan: the GPUs (by PCI address, in the request's order) and their nodes.</summary>
public sealed record RenderNodePlan(IReadOnlyList<string> Gpus, IReadOnlyList<PlannedDrmNode> Nodes)
{
    public static readonly RenderNodePlan None = new([], []);
}

/// <summary>
/// Card and render nodes chosen by PCI address (issue 20). Card numbers follow the order the drivers probed in, which
/// can change between boots, so the config never names <c>/dev/dri/cardN</c>: it names udev's
/// <c>/dev/dri/by-path/pci-&lt;address&gt;-card|render</c> link, which LXC's bind mount and Proxmox's <c>devN</c> both
/// follow to the node it points to when the container starts. Inside, a raw bind mount gives the GPU at position
/// <c>i</c> of the request the names <c>/dev/dri/card&lt;i&gt;</c> and <c>/dev/dri/renderD&lt;128+i&gt;</c> whatever
/// the host's order; Proxmox makes a <c>devN</c> node inside at the path it was given, so there it is the by-path name.
/// </summary>
public static class RenderNodes
{
    /// <summary>The <c>/proc/devices</c> name of the DRM major (normally 226).</summary>
    public const string DrmDriver = "drm";

    /// <summary>
    /// The nodes of the GPUs <paramref name="ids"/> names (a PCI address, or an NVIDIA GPU's UUID or index), each GPU once.
    /// <see cref="PlanException"/> when an id names no GPU with DRM nodes (the message lists those that have them), when
    /// a node of it cannot be passed by its stable link now (<see cref="DriftStatus.NodesMissing"/>), or when
    /// <c>/proc/devices</c> has no <c>drm</c> major or a node disagrees with it (<see cref="DriftStatus.NodesBroken"/>).
    /// </summary>
    public static RenderNodePlan Plan(IReadOnlyList<string>? ids, IReadOnlyList<Gpu> gpus, IReadOnlyList<DrmDevice> devices, IReadOnlyDictionary<string, uint> majors)
    {
        if (ids is not { Count: > 0 })
        {
            return RenderNodePlan.None;
        }

        var selected = new List<DrmDevice>();
        foreach (var id in ids)
        {
            var address = PciAddress.Normalize(id) ?? GpuInventory.Match(gpus, id)?.PciAddress;
            var device = devices.FirstOrDefault(d => d.PciAddress == address && d.Nodes.Count > 0)
                         ?? throw new PlanException($"'{id}' is not a GPU with DRM nodes on this host; {WithNodes(devices)}.",
                             "Name a GPU with DRM nodes by its PCI address (GET /api/v1/gpus lists each GPU's drmNodes); a GPU has none until its driver (i915, xe, amdgpu, nvidia-drm) is bound and loaded.");
            if (!selected.Contains(device))
            {
                selected.Add(device);
            }
        }

        if (!majors.TryGetValue(DrmDriver, out var major))
        {
            throw new PlanException("/proc/devices lists no drm major: the DRM core is not loaded, so no card or render node can work.",
                "Load the GPU's driver (modprobe i915, xe, amdgpu or nvidia-drm), then retry.", DriftStatus.NodesBroken);
        }

        var unusable = selected.SelectMany(d => d.Nodes).Where(n => !n.Usable).ToList();
        if (unusable.Count > 0)
        {
            throw new PlanException(
                $"DRM nodes cannot be passed by their stable names: {string.Join("; ", unusable.Select(n => n.Present ? $"{n.ByPath} does not point to {n.Path}" : $"{n.Path} is missing"))}.",
                "udev makes /dev/dri and its by-path links when the driver binds: `udevadm trigger --subsystem-match=drm --action=add`, then retry.");
        }

        var broken = selected.SelectMany(d => d.Nodes).Where(n => n.Major != major).ToList();
        if (broken.Count > 0)
        {
            throw new PlanException(
                $"DRM nodes disagree with the kernel: {string.Join("; ", broken.Select(n => Invariant($"{n.Path} is {n.Major}:{n.Minor}, but /proc/devices gives drm major {major}")))}.",
                "Delete the stale nodes and let udev recreate them (`udevadm trigger --subsystem-match=drm --action=add`), then PUT the attachment again.",
                DriftStatus.NodesBroken);
        }

        var nodes = new List<PlannedDrmNode>();
        for (var position = 0; position < selected.Count; position++)
        {
            foreach (var node in selected[position].Nodes)
            {
                var inside = node.Kind == DrmNode.Card ? Invariant($"/dev/dri/card{position}") : Invariant($"/dev/dri/renderD{128 + position}");
                nodes.Add(new PlannedDrmNode(
                    new DeviceNode(node.ByPath, true, true, HostAccess.HostFileType.CharacterDevice, node.Major, node.Minor, node.Mode, node.Uid, node.Gid, major, true),
                    node.Path, inside));
            }
        }

        return new RenderNodePlan(selected.Select(d => d.PciAddress).ToList(), nodes);
    }

    /// <summary>
    /// Raw lines: one allow rule for the whole DRM major — a node's minor moves with the card order, so a per-node rule
    /// written today could name another GPU's node after a reboot — and an optional bind mount per node, from its
    /// by-path link to its name inside.
    /// </summary>
    public static IEnumerable<PlannedLine> RawLines(RenderNodePlan plan, CgroupVersion cgroup)
    {
        if (plan.Nodes.Count == 0)
        {
            return [];
        }

        var allowKey = cgroup == CgroupVersion.V2 ? "lxc.cgroup2.devices.allow" : "lxc.cgroup.devices.allow";
        return plan.Nodes.Select(n => n.Node.Major).Distinct()
            .Select(major => new PlannedLine(allowKey, Invariant($"c {major}:* rwm")))
            .Concat(plan.Nodes.Select(n => new PlannedLine("lxc.mount.entry", $"{n.Node.Path} {n.InsidePath[1..]} none bind,optional,create=file")));
    }

    /// <summary>Whether <paramref name="path"/> is a DRM node or link (<c>/dev/dri/…</c>).</summary>
    public static bool IsDrmPath(string path) => path.StartsWith(DrmNodeScanner.DriDirectory + "/", StringComparison.Ordinal);

    /// <summary>Whether a managed line is the whole-major DRM rule <see cref="RawLines"/> writes.</summary>
    public static bool IsWholeMajorRule(string key, string value, IReadOnlyDictionary<string, uint> majors) =>
        key.EndsWith(".devices.allow", StringComparison.Ordinal) && majors.TryGetValue(DrmDriver, out var major) && value == Invariant($"c {major}:* rwm");

    private static string WithNodes(IReadOnlyList<DrmDevice> devices)
    {
        var withNodes = devices.Where(d => d.Nodes.Count > 0).ToList();
        return withNodes.Count == 0
            ? "no GPU on this host has DRM nodes"
            : $"the GPUs with DRM nodes are {string.Join(", ", withNodes.Select(d => $"{d.PciAddress} ({d.Label}: {string.Join(", ", d.Nodes.Select(n => n.Path))})"))}";
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
