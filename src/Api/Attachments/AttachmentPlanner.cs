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

public sealed record AttachmentPlan(AttachmentMode Mode, IReadOnlyList<string> Gpus, IReadOnlyList<PlannedLine> Lines, IReadOnlyList<AttachedNode> Nodes);

/// <summary>The plan cannot be made on this host as it is; <see cref="Fix"/> says what to do.</summary>
public sealed class PlanException(string message, string fix) : Exception(message)
{
    public string Fix { get; } = fix;
}

/// <summary>
/// Turns a request and the host's device nodes — majors and minors read now, never assumed — into the exact
/// config lines (design §4).
/// </summary>
public static class AttachmentPlanner
{
    public static AttachmentPlan Plan(
        AttachRequest request,
        IReadOnlyList<Gpu> gpus,
        DeviceNodeScan nodes,
        CgroupVersion cgroup,
        bool deviceEntriesSupported,
        bool unprivileged)
    {
        var selected = Select(request, gpus);
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

        var lines = mode == AttachmentMode.Dev
            ? passed.Select(node => new PlannedLine(PlannedLine.DevicesKey, DeviceEntry(node, unprivileged))).ToList()
            : RawLines(passed, selected.Count == gpus.Count(g => g.KernelDriver == "nvidia"), cgroup);
        return new AttachmentPlan(mode, selected.Select(g => g.PciAddress).ToList(), lines,
            passed.Select(n => new AttachedNode(n.Path, n.Major!.Value, n.Minor!.Value)).ToList());
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
    /// <c>/dev/nvidia0</c>; in an unprivileged container also the node's mode, and its group when it is not root's,
    /// so that the node inside is as usable as on the host.
    /// </summary>
    private static string DeviceEntry(DeviceNode node, bool unprivileged)
    {
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
