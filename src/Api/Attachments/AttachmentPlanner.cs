using System.Globalization;
using GpuLxc.Api.Hosts;
using GpuLxc.Api.Inventory;

namespace GpuLxc.Api.Attachments;

/// <summary>A line to have in the config; <see cref="DevicesKey"/> stands for any free <c>devN</c>.</summary>
public sealed record PlannedLine(string Key, string Value)
{
    public const string DevicesKey = "dev";

    public bool IsDeviceEntry => Key == DevicesKey;
}

/// <summary>
/// The lines to write, the GPUs (by PCI address) and nodes they pass, and what the caller must be told;
/// <see cref="Drm"/> the GPUs whose DRM nodes are passed (by PCI address) and those nodes, keyed by their by-path links.
/// </summary>
public sealed record AttachmentPlan(AttachmentMode Mode, IReadOnlyList<string> Gpus, IReadOnlyList<PlannedLine> Lines, IReadOnlyList<AttachedNode> Nodes,
    IReadOnlyList<AttachmentWarning> Warnings, RenderNodePlan? Drm = null)
{
    /// <summary>The DRM nodes passed, keyed by their by-path links; empty when none.</summary>
    public IReadOnlyList<DeviceNode> DrmNodes => Drm?.Nodes.Select(n => n.Node).ToList() ?? [];
}

/// <summary>
/// The plan cannot be made on this host as it is; <see cref="Fix"/> says what to do, <see cref="Status"/> what an
/// existing attachment's drift is for the same reason.
/// </summary>
public sealed class PlanException(string message, string fix, DriftStatus status = DriftStatus.NodesMissing) : Exception(message)
{
    public string Fix { get; } = fix;

    public DriftStatus Status { get; } = status;
}

/// <summary>
/// Turns a request and the host's device nodes — majors and minors read now, never assumed — into the exact
/// config lines (design §4).
/// </summary>
public static class AttachmentPlanner
{
    /// <summary>
    /// The plan for <paramref name="request"/>. <see cref="PlanException"/> when a GPU id names no GPU or one not bound to
    /// nvidia, when a required node is missing, or when a node to pass disagrees with the major <c>/proc/devices</c>
    /// gives its driver (status <see cref="DriftStatus.NodesBroken"/>: an allow rule for a major the kernel never gave
    /// the driver lets nothing work). <paramref name="boot"/> says which nodes come back after a reboot; null: all do
    /// (see <see cref="BootSafety"/>). <paramref name="group"/>: the container's group whose gid <c>devN</c> entries carry
    /// (null: the host node's gid, in an unprivileged container only). <paramref name="drm"/>: the GPUs with DRM nodes,
    /// read now, for the request's <c>drm</c> (<see cref="RenderNodes"/>: its problems are this method's too).
    /// </summary>
    public static AttachmentPlan Plan(
        AttachRequest request,
        IReadOnlyList<Gpu> gpus,
        DeviceNodeScan nodes,
        CgroupVersion cgroup,
        bool deviceEntriesSupported,
        bool unprivileged,
        BootNodeSources? boot = null,
        GuestGroup? group = null,
        IReadOnlyList<DrmDevice>? drm = null)
    {
        var selected = Select(request, gpus);
        var render = RenderNodes.Plan(request.Drm, gpus, drm ?? [], nodes.CharacterMajors);
        var mode = request.Mode switch
        {
            AttachmentMode.Auto => deviceEntriesSupported ? AttachmentMode.Dev : AttachmentMode.Raw,
            AttachmentMode.Dev when !deviceEntriesSupported => throw new PlanException(
                "dev mode needs Proxmox VE 8.1 or later.", "Use mode raw (or auto), or upgrade Proxmox VE."),
            var chosen => chosen,
        };

        var byPath = nodes.Nodes.ToDictionary(n => n.Path, StringComparer.Ordinal);
        var wanted = new List<string> { DeviceNodeScanner.Control, DeviceNodeScanner.Uvm };
        wanted.AddRange(selected.Select(g => DeviceNodeScanner.GpuNode(g.Minor!.Value)));
        var missing = wanted.Where(path => !byPath.TryGetValue(path, out var node) || !node.Present).ToList();
        if (missing.Count > 0)
        {
            throw new PlanException($"Required device nodes are missing on the host: {string.Join(", ", missing)}.",
                "Create them with `nvidia-smi` and `nvidia-modprobe -c0 -u` (GET /api/v1/diagnostics shows why they are missing), then retry.");
        }

        if (request.IncludeUvmTools)
        {
            wanted.Add(DeviceNodeScanner.UvmTools);
        }

        if (request.IncludeModeset)
        {
            wanted.Add(DeviceNodeScanner.Modeset);
        }

        wanted.AddRange(nodes.Nodes.Where(n => n.Path.StartsWith(DeviceNodeScanner.CapsDirectory + "/", StringComparison.Ordinal)).Select(n => n.Path));
        var passed = wanted
            .Select(path => byPath.GetValueOrDefault(path))
            .Where(node => node is { Present: true, Major: not null, Minor: not null })
            .Select(node => node!)
            .OrderBy(node => node.Path, StringComparer.Ordinal)
            .ToList();
        RefuseBrokenNodes(wanted.Select(path => byPath.GetValueOrDefault(path)).OfType<DeviceNode>().Where(n => n is { Present: true, MajorMatches: false }).ToList());

        var warnings = new List<AttachmentWarning>();
        List<PlannedLine> lines;
        if (mode == AttachmentMode.Dev)
        {
            var safety = BootSafety.Of(passed, boot);
            lines = safety.DeviceEntries.Select(node => new PlannedLine(PlannedLine.DevicesKey, DeviceEntry(node, unprivileged, group))).ToList();
            lines.AddRange(OptionalLines(safety.OptionalMounts, cgroup));
            // udev makes DRM nodes and their by-path links whenever the driver binds: they always come back at boot.
            lines.AddRange(render.Nodes.Select(n => new PlannedLine(PlannedLine.DevicesKey, DeviceEntry(n.Node, unprivileged, group))));
            warnings.AddRange(safety.Warnings);
        }
        else
        {
            lines = RawLines(passed, selected.Count == gpus.Count(g => g.KernelDriver == "nvidia"), cgroup);
            lines.AddRange(RenderNodes.RawLines(render, cgroup));
        }

        return new AttachmentPlan(mode, selected.Select(g => g.PciAddress).ToList(), lines,
            [.. passed.Select(n => new AttachedNode(n.Path, n.Major!.Value, n.Minor!.Value)),
             .. render.Nodes.Select(n => new AttachedNode(n.Node.Path, n.Node.Major!.Value, n.Node.Minor!.Value, n.ResolvesTo,
                 mode == AttachmentMode.Dev ? n.Node.Path : n.InsidePath))],
            warnings, render);
    }

    /// <summary>The fix for nodes whose major disagrees with <c>/proc/devices</c> (the <c>device-node-majors</c> check's).</summary>
    public static string RecreateFix(IEnumerable<string> paths) =>
        $"Delete the stale nodes ({string.Join(" ", paths)}) and recreate them with `nvidia-modprobe -c0 -u`; then re-attach the containers (PUT /api/v1/containers/{{id}}/gpu).";

    private static void RefuseBrokenNodes(List<DeviceNode> broken)
    {
        if (broken.Count == 0)
        {
            return;
        }

        var what = broken.Select(n => n.Type == HostAccess.HostFileType.CharacterDevice
            ? Invariant($"{n.Path} is {n.Major}:{n.Minor}, but /proc/devices gives {DriverName(n.Path)} major {n.ExpectedMajor}")
            : $"{n.Path} is a {n.Type}, not a character device");
        throw new PlanException($"Device nodes disagree with the kernel: {string.Join("; ", what)}. A container given them could not use the GPU.",
            RecreateFix(broken.Select(n => n.Path)), DriftStatus.NodesBroken);
    }

    private static string DriverName(string path) =>
        path.StartsWith(DeviceNodeScanner.Uvm, StringComparison.Ordinal) ? "nvidia-uvm"
        : path.StartsWith(DeviceNodeScanner.CapsDirectory + "/", StringComparison.Ordinal) ? "nvidia-caps"
        : "nvidia";

    /// <summary>
    /// Raw lines for nodes a <c>devN</c> entry must not name: one allow rule per node (never a whole major, which would
    /// reach the other GPUs) and a bind mount that LXC skips when the node is missing.
    /// </summary>
    private static IEnumerable<PlannedLine> OptionalLines(IReadOnlyList<DeviceNode> nodes, CgroupVersion cgroup)
    {
        var allowKey = cgroup == CgroupVersion.V2 ? "lxc.cgroup2.devices.allow" : "lxc.cgroup.devices.allow";
        return nodes.Select(n => new PlannedLine(allowKey, Invariant($"c {n.Major}:{n.Minor} rwm")))
            .Concat(nodes.Select(n => new PlannedLine("lxc.mount.entry", $"{n.Path} {n.Path[1..]} none bind,optional,create=file")));
    }

    private static List<Gpu> Select(AttachRequest request, IReadOnlyList<Gpu> gpus)
    {
        var bound = gpus.Where(g => g.KernelDriver == "nvidia" && g.Minor is not null).ToList();
        if (request.Gpus is not { Count: > 0 })
        {
            return bound.Count > 0
                ? bound
                : throw new PlanException("No GPU on this host is bound to the nvidia driver.", "GET /api/v1/diagnostics says why; install or load the host driver.");
        }

        var selected = new List<Gpu>();
        foreach (var id in request.Gpus.Distinct(StringComparer.OrdinalIgnoreCase))
        {
            var gpu = GpuInventory.Match(gpus, id)
                      ?? throw new PlanException($"No NVIDIA GPU has the id '{id}'.", "GET /api/v1/gpus lists the GPUs and their ids.");
            if (gpu.KernelDriver != "nvidia" || gpu.Minor is null)
            {
                throw new PlanException($"GPU {gpu.PciAddress} is bound to '{gpu.KernelDriver}', not nvidia.", "GET /api/v1/diagnostics gives the fix for the gpu-bound check.");
            }

            if (!selected.Contains(gpu))
            {
                selected.Add(gpu);
            }
        }

        return selected;
    }

    /// <summary>
    /// One device rule per major (<c>c 238:* rwm</c>); when only some GPUs are chosen, the nvidia major is allowed node
    /// by node so that the other GPUs stay out of reach. Then one bind mount per node.
    /// </summary>
    private static List<PlannedLine> RawLines(List<DeviceNode> nodes, bool allGpus, CgroupVersion cgroup)
    {
        var allowKey = cgroup == CgroupVersion.V2 ? "lxc.cgroup2.devices.allow" : "lxc.cgroup.devices.allow";
        var lines = new List<PlannedLine>();
        foreach (var major in nodes.GroupBy(n => n.Major!.Value).OrderBy(g => g.Key))
        {
            var perNode = !allGpus && major.Any(n => IsGpuNode(n.Path));
            lines.AddRange(perNode
                ? major.OrderBy(n => n.Minor).Select(n => new PlannedLine(allowKey, Invariant($"c {major.Key}:{n.Minor} rwm")))
                : [new PlannedLine(allowKey, Invariant($"c {major.Key}:* rwm"))]);
        }

        lines.AddRange(nodes.Select(n => new PlannedLine("lxc.mount.entry", $"{n.Path} {n.Path[1..]} none bind,optional,create=file")));
        return lines;
    }

    /// <summary>
    /// <c>/dev/nvidia0</c>; with a group asked for, that group's gid inside and group read-write
    /// (<c>/dev/nvidia0,gid=44,mode=0660</c>: Proxmox makes the node inside with them); else in an unprivileged container
    /// the node's mode, and its group when it is not root's.
    /// </summary>
    private static string DeviceEntry(DeviceNode node, bool unprivileged, GuestGroup? group)
    {
        if (group is not null)
        {
            return Invariant($"{node.Path},gid={group.Gid},mode={GuestAccess.GroupMode(node.Mode)}");
        }

        if (!unprivileged)
        {
            return node.Path;
        }

        var gid = node.Gid is > 0 ? Invariant($",gid={node.Gid}") : "";
        return $"{node.Path}{gid},mode={node.Mode}";
    }

    private static bool IsGpuNode(string path) =>
        path.StartsWith("/dev/nvidia", StringComparison.Ordinal) && path.Length > "/dev/nvidia".Length && char.IsAsciiDigit(path["/dev/nvidia".Length]);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
