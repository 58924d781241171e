using GpuLxc.Api.Containers.Config;

namespace GpuLxc.Api.Attachments;

/// <summary>What an attach did to a config's lines, in the order it did it.</summary>
/// <param name="Lines">Every planned line with its real key (<c>dev3</c>, not <c>dev</c>); <c>Added</c> when GpuLxc wrote it.</param>
/// <param name="Added">The setting lines added, as the config's format writes them.</param>
/// <param name="Removed">The config lines removed: ones GpuLxc added earlier that the plan no longer has.</param>
public sealed record LineEdit(IReadOnlyList<RecordedLine> Lines, IReadOnlyList<string> Added, IReadOnlyList<string> Removed)
{
    /// <summary>Whether the config's text changed, and so must be backed up and written.</summary>
    public bool Changed => Added.Count + Removed.Count > 0;
}

/// <summary>
/// The config-line mechanics of attach and detach (design §4: touch only the lines GpuLxc manages). Pure: it edits a
/// <see cref="ConfigText"/> in memory and reads nothing else; locking, writing and recording are the service's.
/// </summary>
public static class AttachmentEdit
{
    /// <summary>
    /// Makes <paramref name="config"/> hold every planned line. First removes the lines <paramref name="record"/> says
    /// GpuLxc added that the plan no longer has; then, per planned line, adopts it when the config has it already
    /// (GpuLxc's only if the record says GpuLxc wrote it, so that a detach leaves hand-written lines) or adds it, a
    /// <c>dev</c> entry under the first free <c>devN</c>.
    /// </summary>
    public static LineEdit Attach(ConfigText config, AttachmentRecord? record, IReadOnlyList<PlannedLine> planned)
    {
        var removed = new List<string>();
        foreach (var line in record?.Lines.Where(l => l.Added && !planned.Any(p => Matches(p, l))) ?? [])
        {
            removed.AddRange(RemoveOne(config, line));
        }

        var lines = new List<RecordedLine>();
        var added = new List<string>();
        foreach (var line in planned)
        {
            var present = Present(config, line);
            if (present is { } existing)
            {
                var ours = record?.Lines.Any(l => l.Added && l.Key == existing.Key && l.Value == existing.Value) == true;
                lines.Add(new RecordedLine(existing.Key, existing.Value, ours));
                continue;
            }

            var key = line.IsDeviceEntry ? FreeDeviceKey(config) : line.Key;
            config.Add(key, line.Value);
            added.Add(config.FormatSetting(key, line.Value));
            lines.Add(new RecordedLine(key, line.Value, true));
        }

        return new LineEdit(lines, added, removed);
    }

    /// <summary>Removes every line <paramref name="record"/> says GpuLxc added (one occurrence each); returns their text.</summary>
    public static List<string> Detach(ConfigText config, AttachmentRecord record) =>
        record.Lines.Where(l => l.Added).SelectMany(line => RemoveOne(config, line)).ToList();

    /// <summary>
    /// The editable setting that already satisfies <paramref name="line"/>: for a <c>dev</c> entry any <c>devN</c> with
    /// the same value (the first), else the same key and value; null when the config lacks it.
    /// </summary>
    public static (string Key, string Value)? Present(ConfigText config, PlannedLine line) =>
        line.IsDeviceEntry
            ? config.Settings().Where(s => IsDeviceKey(s.Key) && s.Value == line.Value).Select(s => ((string, string)?)s).FirstOrDefault()
            : config.Find(line.Key, line.Value).Any() ? (line.Key, line.Value) : null;

    /// <summary>Removes the last occurrence of a line GpuLxc added (the one it appended), never any other.</summary>
    /// <returns>The removed line's text, or nothing when the config no longer has the line.</returns>
    public static IEnumerable<string> RemoveOne(ConfigText config, RecordedLine line)
    {
        var indexes = config.Find(line.Key, line.Value).ToList();
        if (indexes.Count == 0)
        {
            return [];
        }

        var text = config.Lines[indexes[^1]].Text;
        config.RemoveAt(indexes[^1]);
        return [text];
    }

    /// <summary>The lowest <c>devN</c> (N in 0–255, Proxmox's range) no editable setting uses.</summary>
    /// <exception cref="InvalidOperationException">All 256 are taken.</exception>
    public static string FreeDeviceKey(ConfigText config)
    {
        var used = config.Settings().Select(s => s.Key).Where(IsDeviceKey).ToHashSet(StringComparer.Ordinal);
        return Enumerable.Range(0, 256).Select(i => $"dev{i}").First(key => !used.Contains(key));
    }

    /// <summary>Whether <paramref name="key"/> is a Proxmox device entry: <c>dev</c> and one or more ASCII digits.</summary>
    public static bool IsDeviceKey(string key) => key.Length > 3 && key.StartsWith("dev", StringComparison.Ordinal) && key[3..].All(char.IsAsciiDigit);

    /// <summary>Whether a recorded line is the planned one: same value, and same key or, for a <c>dev</c> entry, any <c>devN</c>.</summary>
    public static bool Matches(PlannedLine planned, RecordedLine recorded) =>
        planned.Value == recorded.Value && (planned.IsDeviceEntry ? IsDeviceKey(recorded.Key) : planned.Key == recorded.Key);

    /// <summary>
    /// Whether two records say the same attachment (mode, request, GPUs, lines, nodes — not the time), so that an attach
    /// that changes nothing leaves the stored record and its audit trail alone.
    /// </summary>
    public static bool SameAttachment(AttachmentRecord a, AttachmentRecord b) =>
        a.Mode == b.Mode && SameRequest(a.Request, b.Request) && a.Gpus.SequenceEqual(b.Gpus) && a.Lines.SequenceEqual(b.Lines) && a.Nodes.SequenceEqual(b.Nodes);

    /// <summary>Records compare lists by reference; requests are the same when their GPU and DRM lists hold the same ids.</summary>
    private static bool SameRequest(AttachRequest a, AttachRequest b) =>
        a with { Gpus = null, Drm = null } == b with { Gpus = null, Drm = null } && (a.Gpus ?? []).SequenceEqual(b.Gpus ?? [], StringComparer.Ordinal) &&
        (a.Drm ?? []).SequenceEqual(b.Drm ?? [], StringComparer.Ordinal);
}
