using System.Globalization;
using System.Text.RegularExpressions;
using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Inventory;

/// <summary>
/// A DRM node of one GPU as the kernel names it now, with the stable link udev makes for it.
/// </summary>
/// <param name="Kind"><c>card</c> (modesetting, display) or <c>render</c> (render and compute only, no display).</param>
/// <param name="Path">The node's name now, e.g. <c>/dev/dri/renderD129</c>, from sysfs <c>…/drm/renderD129</c>: card numbers
/// follow the order the drivers probed in, which can change between boots.</param>
/// <param name="ByPath">The stable link, <c>/dev/dri/by-path/pci-&lt;address&gt;-card</c> or <c>-render</c>.</param>
/// <param name="ByPathResolves">Whether <c>byPath</c> exists and points to <c>path</c> (udev writes it relative, <c>../renderD129</c>).</param>
/// <param name="Present">Whether <c>path</c> exists as a character device.</param>
/// <param name="Major">The node's major (the <c>drm</c> major of <c>/proc/devices</c>, normally 226).</param>
/// <param name="Minor">The node's minor (cards count from 0, render nodes from 128).</param>
/// <param name="Mode">Permission bits in octal, e.g. <c>0660</c>.</param>
/// <param name="Uid">Owner user id.</param>
/// <param name="Gid">Owner group id (render nodes are usually the host's <c>render</c> group, cards <c>video</c>).</param>
public sealed record DrmNode(string Kind, string Path, string ByPath, bool ByPathResolves, bool Present, uint? Major, uint? Minor, string? Mode, uint? Uid, uint? Gid)
{
    public const string Card = "card";
    public const string Render = "render";

    /// <summary>Whether the node can be passed by its stable link now: the node is there and the link points to it.</summary>
    public bool Usable => Present && ByPathResolves && Major is not null && Minor is not null;
}

/// <summary>
/// Reads a PCI device's DRM nodes: the names under <c>/sys/bus/pci/devices/&lt;address&gt;/drm</c>, <c>stat(2)</c> of
/// each <c>/dev/dri</c> node, and whether udev's <c>/dev/dri/by-path</c> link for it points to that node. Read on
/// every call: the names are what changes between boots.
/// </summary>
public sealed partial class DrmNodeScanner(IHostFileSystem files)
{
    public const string DriDirectory = "/dev/dri";
    public const string ByPathDirectory = "/dev/dri/by-path";

    /// <summary>The DRM nodes of the PCI device at <paramref name="address"/> (normalized), cards first; empty when it has none.</summary>
    public IReadOnlyList<DrmNode> Scan(string address) => files.ListDirectory($"{PciGpuScanner.DevicesPath}/{address}/drm")
        .Select(entry => Parse(Path.GetFileName(entry)))
        .OfType<(string Kind, int Number, string Name)>()
        .OrderBy(node => node.Kind == DrmNode.Card ? 0 : 1)
        .ThenBy(node => node.Number)
        .Select(node => Describe(address, node.Kind, node.Name))
        .ToList();

    /// <summary>The stable link of a GPU's node: <c>/dev/dri/by-path/pci-0000:00:02.0-render</c>.</summary>
    public static string ByPath(string address, string kind) => $"{ByPathDirectory}/pci-{address}-{kind}";

    /// <summary>
    /// A sysfs DRM entry name as (kind, number, name): <c>card1</c> → (<c>card</c>, 1), <c>renderD129</c> →
    /// (<c>render</c>, 129); null for what is not a node (<c>card1-HDMI-A-1</c>, a connector; <c>controlD64</c>, gone since Linux 6.8).
    /// </summary>
    public static (string Kind, int Number, string Name)? Parse(string name)
    {
        var match = NodeName().Match(name);
        if (!match.Success || !int.TryParse(match.Groups["number"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            return null;
        }

        return (match.Groups["kind"].Value == "card" ? DrmNode.Card : DrmNode.Render, number, name);
    }

    private DrmNode Describe(string address, string kind, string name)
    {
        var path = $"{DriDirectory}/{name}";
        var byPath = ByPath(address, kind);
        // udev's link is ../cardN (relative, in /dev/dri): its last segment names the node it points to.
        var resolves = files.ReadLinkName(byPath) == name && files.Stat(byPath) is { Type: HostFileType.SymbolicLink };
        if (files.Stat(path) is not { Type: HostFileType.CharacterDevice } stat)
        {
            return new DrmNode(kind, path, byPath, resolves, false, null, null, null, null, null);
        }

        return new DrmNode(kind, path, byPath, resolves, true, stat.Major, stat.Minor, stat.OctalMode, stat.Uid, stat.Gid);
    }

    [GeneratedRegex(@"^(?<kind>card|renderD)(?<number>[0-9]{1,4})\z")]
    private static partial Regex NodeName();
}
