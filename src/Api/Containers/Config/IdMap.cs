using System.Globalization;

namespace GpuLxc.Api.Containers.Config;

/// <summary>One <c>lxc.idmap</c> range.</summary>
/// <param name="Kind"><c>u</c> (user ids) or <c>g</c> (group ids).</param>
/// <param name="Inside">The first id inside the container.</param>
/// <param name="Host">The host id that <paramref name="Inside"/> is.</param>
/// <param name="Count">How many consecutive ids the range maps.</param>
public sealed record IdRange(char Kind, uint Inside, uint Host, uint Count)
{
    /// <summary>The range as LXC writes it: <c>g 0 100000 65536</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Kind} {Inside} {Host} {Count}");
}

/// <summary>
/// A container's user namespace mapping, from its config's <c>lxc.idmap</c> lines (LXC's <c>lxc.idmap = g 0 100000
/// 65536</c>, Proxmox's <c>lxc.idmap: g 0 100000 65536</c>, the pre-3.0 <c>lxc.id_map</c>). A Proxmox container with
/// <c>unprivileged: 1</c> and no <c>lxc.idmap</c> line gets Proxmox's default, ids 0–65535 at host 100000–165535. A host
/// id with no range has no id inside: the kernel shows it as the overflow ids, <c>nobody</c>/<c>nogroup</c> (65534).
/// </summary>
public sealed class IdMap
{
    /// <summary>The id the kernel shows inside a user namespace for a host id it does not map (<c>/proc/sys/kernel/overflowgid</c>'s default).</summary>
    public const uint Overflow = 65534;

    private IdMap(IReadOnlyList<IdRange> ranges) => Ranges = ranges;

    /// <summary>The ranges, in config order.</summary>
    public IReadOnlyList<IdRange> Ranges { get; }

    /// <summary>
    /// The container's mapping; null for a privileged container (no <c>lxc.idmap</c> and, on Proxmox, no
    /// <c>unprivileged: 1</c>). Lines that do not parse as four numbers are left out.
    /// </summary>
    public static IdMap? Of(ConfigText config, bool proxmox)
    {
        var ranges = config.Settings()
            .Where(s => s.Key is "lxc.idmap" or "lxc.id_map")
            .SelectMany(s => Parse(s.Value))
            .ToList();
        if (ranges.Count > 0)
        {
            return new IdMap(ranges);
        }

        return proxmox && config.Get("unprivileged") == "1" ? ProxmoxDefault : null;
    }

    /// <summary>Proxmox's mapping for an unprivileged container without <c>lxc.idmap</c> lines.</summary>
    public static IdMap ProxmoxDefault { get; } = new([new IdRange('u', 0, 100000, 65536), new IdRange('g', 0, 100000, 65536)]);

    /// <summary>The group id that host gid <paramref name="hostGid"/> has inside; null when it is not mapped (it shows as <see cref="Overflow"/>).</summary>
    public uint? GroupInside(uint hostGid) => Inside('g', hostGid);

    /// <summary>The user id that host uid <paramref name="hostUid"/> has inside; null when it is not mapped.</summary>
    public uint? UserInside(uint hostUid) => Inside('u', hostUid);

    /// <summary>The host gid that container gid <paramref name="insideGid"/> is; null when the container has no such gid.</summary>
    public uint? GroupOnHost(uint insideGid) =>
        Ranges.FirstOrDefault(r => r.Kind == 'g' && insideGid >= r.Inside && insideGid - r.Inside < r.Count) is { } range ? range.Host + (insideGid - range.Inside) : null;

    /// <summary>
    /// The group ranges with container gid <paramref name="insideGid"/> taken out and mapped to host gid
    /// <paramref name="hostGid"/> instead: the <c>lxc.idmap</c> lines of the "map the group" fix, in order.
    /// </summary>
    public IReadOnlyList<IdRange> WithGroup(uint insideGid, uint hostGid)
    {
        var result = new List<IdRange>();
        foreach (var range in Ranges.Where(r => r.Kind == 'g').OrderBy(r => r.Inside))
        {
            if (insideGid < range.Inside || insideGid - range.Inside >= range.Count)
            {
                result.Add(range);
                continue;
            }

            var before = insideGid - range.Inside;
            if (before > 0)
            {
                result.Add(range with { Count = before });
            }

            result.Add(new IdRange('g', insideGid, hostGid, 1));
            if (range.Count - before - 1 > 0)
            {
                result.Add(new IdRange('g', insideGid + 1, range.Host + before + 1, range.Count - before - 1));
            }
        }

        return result;
    }

    private uint? Inside(char kind, uint hostId) =>
        Ranges.FirstOrDefault(r => r.Kind == kind && hostId >= r.Host && hostId - r.Host < r.Count) is { } range ? range.Inside + (hostId - range.Host) : null;

    /// <summary>One line's ranges: <c>b</c> (both) stands for a <c>u</c> and a <c>g</c> range.</summary>
    private static IEnumerable<IdRange> Parse(string value)
    {
        var parts = value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 4 || parts[0] is not ("u" or "g" or "b") ||
            !uint.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var inside) ||
            !uint.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var host) ||
            !uint.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count == 0)
        {
            return [];
        }

        return parts[0] == "b" ? [new IdRange('u', inside, host, count), new IdRange('g', inside, host, count)] : [new IdRange(parts[0][0], inside, host, count)];
    }
}
