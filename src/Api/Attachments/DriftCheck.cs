using GpuLxc.Api.Containers.Config;

namespace GpuLxc.Api.Attachments;

/// <summary>
/// Whether an attachment still holds (design §4, drift): pure — it reads the record, the config and the host facts it
/// is given, nothing else.
/// </summary>
public static class DriftCheck
{
    /// <summary>
    /// Replans the recorded request against the host as it is now and compares with what the config says. In order:
    /// <see cref="DriftStatus.NodesMissing"/> when the plan cannot be made now (the planner's reason and fix);
    /// <see cref="DriftStatus.HostChanged"/> when the plan's lines differ from the recorded ones (<c>devN</c> keys
    /// count as one); <see cref="DriftStatus.EditedByHand"/> when a recorded line is gone from the config; else
    /// <see cref="DriftStatus.InSync"/>. <paramref name="unprivileged"/> is the container's privilege now: its
    /// <c>dev</c> entries carry gid and mode.
    /// </summary>
    public static Drift Of(AttachmentRecord record, ConfigText config, PlanContext context, bool unprivileged)
    {
        var fix = $"PUT /api/v1/containers/{record.ContainerId}/gpu again (with the same body) to rewrite the lines.";
        AttachmentPlan plan;
        try
        {
            plan = UserspaceMounts.Add(
                AttachmentPlanner.Plan(record.Request with { Mode = record.Mode }, context.Gpus, context.Nodes, context.Cgroup, deviceEntriesSupported: true, unprivileged),
                record.Request, context.Userspace);
        }
        catch (PlanException e)
        {
            return new Drift(DriftStatus.NodesMissing, e.Message, e.Fix);
        }

        var planned = plan.Lines.Select(Normalize).Order(StringComparer.Ordinal);
        var recorded = record.Lines.Select(l => Normalize(new PlannedLine(AttachmentEdit.IsDeviceKey(l.Key) ? PlannedLine.DevicesKey : l.Key, l.Value))).Order(StringComparer.Ordinal);
        if (!planned.SequenceEqual(recorded) && UserspaceDrift(record, plan, context) is { } userspaceDrift)
        {
            return userspaceDrift;
        }

        if (!planned.SequenceEqual(recorded))
        {
            var was = string.Join(", ", record.Nodes.Select(n => $"{n.Path} {n.Major}:{n.Minor}"));
            var now = string.Join(", ", plan.Nodes.Select(n => $"{n.Path} {n.Major}:{n.Minor}"));
            return new Drift(DriftStatus.HostChanged, $"The host's device nodes changed since the attachment: it was made for {was}; the host now has {now}.", fix);
        }

        var missing = record.Lines.Where(l => !config.Find(l.Key, l.Value).Any()).Select(l => config.FormatSetting(l.Key, l.Value)).ToList();
        return missing.Count > 0
            ? new Drift(DriftStatus.EditedByHand, $"Lines GpuLxc wrote are gone from the config: {string.Join("; ", missing)}.", fix)
            : new Drift(DriftStatus.InSync, "The config holds every line, and they match the host's device nodes.", null);
    }

    /// <summary>
    /// <see cref="DriftStatus.HostChanged"/> naming the driver versions when the device lines still match but the
    /// userspace mounts do not (the host driver was upgraded): the container runs the old set until re-PUT and restart.
    /// Null when the device lines differ too (the generic answer says more) or the userspace lines are the same.
    /// </summary>
    private static Drift? UserspaceDrift(AttachmentRecord record, AttachmentPlan plan, PlanContext context)
    {
        var recordedDevices = record.Lines.Where(l => !UserspaceMounts.IsUserspaceLine(l.Key, l.Value))
            .Select(l => Normalize(new PlannedLine(AttachmentEdit.IsDeviceKey(l.Key) ? PlannedLine.DevicesKey : l.Key, l.Value))).Order(StringComparer.Ordinal);
        var plannedDevices = plan.Lines.Where(l => !UserspaceMounts.IsUserspaceLine(l.Key, l.Value)).Select(Normalize).Order(StringComparer.Ordinal);
        if (!recordedDevices.SequenceEqual(plannedDevices))
        {
            return null;
        }

        var was = UserspaceMounts.VersionOf(record.Lines.Where(l => UserspaceMounts.IsUserspaceLine(l.Key, l.Value)).Select(l => l.Value)) ?? "another version";
        return new Drift(DriftStatus.HostChanged,
            $"The container's driver userspace mounts name the files of driver {was}; the host has {context.Userspace?.Version} loaded now " +
            $"(its files: {context.Userspace?.Source}). Until the lines are rewritten and the container restarts, it runs the old set.",
            $"PUT /api/v1/containers/{record.ContainerId}/gpu?restart=true again (with the same body): it binds the loaded version's files. No guest install is needed.");
    }

    private static string Normalize(PlannedLine line) => $"{line.Key}\u0000{line.Value}";
}
