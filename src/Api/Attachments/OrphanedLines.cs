using GpuLxc.Api.Containers.Config;

namespace GpuLxc.Api.Attachments;

/// <summary>
/// Rebuilds an attachment record from the config alone (issue 15: the file is the truth), for a container whose config
/// holds GpuLxc's lines while gpulxc.db has no record of them — left by a version without intents, a lost or restored
/// database, or an edit superseded before its intent was settled. Pure: it reads the config and the host facts given.
/// <para>
/// What is safe: a config is recognised only when it holds every line of one complete plan for this host — the exact
/// text the planner writes for some choice of mode, GPUs and optional nodes — and then only those lines are claimed.
/// A single hand-written rule, or a hand-written set that differs in one byte from GpuLxc's, is never claimed, so no
/// API call removes a line GpuLxc would not have written. A hand-written set identical to a complete plan is
/// indistinguishable from GpuLxc's and is claimed: detaching it is what the caller asked for.
/// </para>
/// </summary>
public static class OrphanedLines
{
    /// <summary>Every subset of the GPUs is tried up to this many GPUs; beyond it, all of them and each one alone.</summary>
    private const int SubsetsUpTo = 4;

    /// <summary>
    /// The record of the largest complete plan the config holds (<c>devN</c> keys as found, every line
    /// <see cref="RecordedLine.Added"/>), or null when it holds none. <paramref name="unprivileged"/> is the container's
    /// privilege now (its <c>dev</c> entries carry gid and mode).
    /// </summary>
    public static AttachmentRecord? Recognize(
        string containerId, string backend, ConfigText config, PlanContext context, bool unprivileged, DateTimeOffset now)
    {
        AttachmentRecord? best = null;
        foreach (var request in Candidates(context))
        {
            AttachmentPlan plan;
            try
            {
                plan = AttachmentPlanner.Plan(request, context.Gpus, context.Nodes, context.Cgroup, deviceEntriesSupported: true, unprivileged, context.Boot);
            }
            catch (PlanException)
            {
                continue;
            }

            if (Claim(config, plan.Lines) is { } lines && (best is null || lines.Count > best.Lines.Count))
            {
                best = new AttachmentRecord(containerId, backend, request, plan.Mode, plan.Gpus, lines, plan.Nodes, now);
            }
        }

        return best;
    }

    /// <summary>The config's lines for every planned one (each <c>devN</c> used once), or null when one is missing.</summary>
    private static List<RecordedLine>? Claim(ConfigText config, IReadOnlyList<PlannedLine> planned)
    {
        var settings = config.Settings().ToList();
        var claimed = new List<RecordedLine>();
        foreach (var line in planned)
        {
            var found = settings.FirstOrDefault(s =>
                s.Value == line.Value && (line.IsDeviceEntry ? AttachmentEdit.IsDeviceKey(s.Key) : s.Key == line.Key) &&
                !claimed.Any(c => c.Key == s.Key && c.Value == s.Value));
            if (found.Key is null)
            {
                return null;
            }

            claimed.Add(new RecordedLine(found.Key, found.Value, true));
        }

        return claimed;
    }

    private static IEnumerable<AttachRequest> Candidates(PlanContext context)
    {
        var gpus = context.Gpus.Where(g => g.KernelDriver == "nvidia" && g.Minor is not null).Select(g => g.PciAddress).ToList();
        var selections = new List<IReadOnlyList<string>?> { null };
        selections.AddRange(gpus.Count <= SubsetsUpTo
            ? Enumerable.Range(1, (1 << gpus.Count) - 1).Select(mask => (IReadOnlyList<string>?)gpus.Where((_, i) => (mask & (1 << i)) != 0).ToList())
            : gpus.Select(g => (IReadOnlyList<string>?)[g]));
        foreach (var mode in new[] { AttachmentMode.Dev, AttachmentMode.Raw })
        {
            foreach (var selection in selections)
            {
                foreach (var (modeset, uvmTools) in new[] { (true, true), (true, false), (false, true), (false, false) })
                {
                    yield return new AttachRequest(selection, mode, modeset, uvmTools);
                }
            }
        }
    }
}
