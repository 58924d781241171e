using GpuLxc.Api.Containers.Config;
using GpuLxc.Api.Inventory;

namespace GpuLxc.Api.Attachments;

/// <summary>
/// Whether an attachment still holds (design §4, drift): pure — it reads the record, the config and the host facts it
/// is given, nothing else.
/// </summary>
public static class DriftCheck
{
    /// <summary>
    /// Replans the recorded request — its GPUs by the PCI addresses recorded, never by index — against the host as it is
    /// now and compares with what the config says. In order: <see cref="DriftStatus.NodesMissing"/> when a <c>devN</c>
    /// entry in the config names a node the host lacks (Proxmox will not start the container), or when the plan cannot be
    /// made now for a missing node (the planner's reason and fix); <see cref="DriftStatus.NodesBroken"/> when a node's
    /// major disagrees with <c>/proc/devices</c>; <see cref="DriftStatus.HostChanged"/> when the plan's lines differ
    /// from the recorded ones (<c>devN</c> keys count as one); <see cref="DriftStatus.EditedByHand"/> when a recorded line
    /// is gone from the config; else <see cref="DriftStatus.InSync"/>. A node made on first use that is absent now and is
    /// passed by an optional mount is harmless: the container starts without it, so it changes nothing.
    /// <paramref name="unprivileged"/> is the container's privilege now: its <c>dev</c> entries carry gid and mode, and
    /// nodes bound in that it cannot open through its idmap are <see cref="DriftStatus.NodesUnusable"/> (<see cref="GuestAccess"/>).
    /// DRM nodes are named by their by-path links: a card order that changed at boot leaves the lines as they were
    /// (<see cref="DriftStatus.InSync"/>), a link that is gone (the GPU removed or unbound) is <see cref="DriftStatus.NodesMissing"/>.
    /// </summary>
    public static Drift Of(AttachmentRecord record, ConfigText config, PlanContext context, bool unprivileged)
    {
        var put = $"PUT /api/v1/containers/{record.ContainerId}/gpu again with {GpuIdentity.FixBody(record)}";
        var fix = $"{put} to rewrite the lines.";
        var present = context.Nodes.Nodes.Where(n => n.Present).Select(n => n.Path).Concat(context.UsableDrmLinks).ToHashSet(StringComparer.Ordinal);
        var dangling = record.Lines
            .Where(l => AttachmentEdit.IsDeviceKey(l.Key) && !present.Contains(l.Value.Split(',')[0]) && config.Find(l.Key, l.Value).Any())
            .ToList();
        if (dangling.Count > 0)
        {
            var paths = dangling.Select(l => l.Value.Split(',')[0]).ToList();
            // A DRM by-path link is udev's: it is back when the GPU is there and bound to its driver, never made by hand,
            // and a PUT cannot pass a GPU that has no node.
            var drm = paths.Where(RenderNodes.IsDrmPath).ToList();
            var nvidia = paths.Except(drm, StringComparer.Ordinal).ToList();
            var fixes = new List<string>();
            if (nvidia.Count > 0)
            {
                fixes.Add($"Create {string.Join(", ", nvidia)} (`{string.Join("`, `", nvidia.Select(BootSafety.CreateCommand).Distinct())}`) and have it created at every boot, " +
                          $"or {put} to pass it as an optional mount instead.");
            }

            if (drm.Count > 0)
            {
                fixes.Add($"{string.Join(", ", drm)} is udev's link for a GPU that is gone or not bound to its driver now: bind the GPU again " +
                          $"(its kernel module loaded, `udevadm trigger --subsystem-match=drm` to remake the links), or {put.Replace(GpuIdentity.FixBody(record), "a body without that GPU in drm", StringComparison.Ordinal)}.");
            }

            return new Drift(DriftStatus.NodesMissing,
                $"Proxmox will not start container {record.ContainerId}: its config has {string.Join(", ", dangling.Select(l => $"{l.Key}: {l.Value}"))}, " +
                $"and the host has no {string.Join(", ", paths)} (nothing recreated it at boot).",
                string.Join(" ", fixes));
        }

        // A first-use node passed by an optional mount may be absent: plan as if it were there, so that it changes nothing.
        // A DRM node is never made on first use: its link gone means the GPU is gone or unbound.
        var harmless = record.Nodes.Where(n => !present.Contains(n.Path) && !BootSafety.IsEssential(n.Path) && n.Path != DeviceNodeScanner.Uvm && !RenderNodes.IsDrmPath(n.Path)).ToList();
        var nodes = context.Nodes with
        {
            Nodes = [.. context.Nodes.Nodes.Where(n => n.Present || !harmless.Any(h => h.Path == n.Path)),
                .. harmless.Select(h => new DeviceNode(h.Path, true, false, HostAccess.HostFileType.CharacterDevice, h.Major, h.Minor, "0666", 0, 0, null, null))],
        };
        AttachmentPlan plan;
        try
        {
            var group = RecordedGroup(record);
            plan = UserspaceMounts.Add(
                AttachmentPlanner.Plan(GpuIdentity.Replan(record), context.Gpus, nodes, context.Cgroup, deviceEntriesSupported: true, unprivileged, context.Boot, group, context.Drm),
                record.Request, context.Userspace);
            _ = GuestAccess.Check(plan, nodes, unprivileged ? IdMap.Of(config, config is ProxmoxConfig) : null, group, null, record.ContainerId);
        }
        catch (PlanException e)
        {
            return new Drift(e.Status, e.Message, e.Fix);
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
        if (missing.Count > 0)
        {
            return new Drift(DriftStatus.EditedByHand, $"Lines GpuLxc wrote are gone from the config: {string.Join("; ", missing)}.", fix);
        }

        return new Drift(DriftStatus.InSync, "The config holds every line, and they match the host's device nodes." + (harmless.Count == 0 ? "" :
            $" {string.Join(", ", harmless.Select(h => h.Path))} is absent now (made on first use); its mount is optional, so the container starts without it."), null);
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

    /// <summary>
    /// The container's group the attachment was made for, with the gid its <c>devN</c> entries carry; null when it asked
    /// for none, or when no entry holds the gid (bound nodes are then held to "someone inside can open them").
    /// </summary>
    private static GuestGroup? RecordedGroup(AttachmentRecord record)
    {
        if (record.Request.Group is not { } name)
        {
            return null;
        }

        var gid = record.Lines.Where(l => AttachmentEdit.IsDeviceKey(l.Key))
            .SelectMany(l => l.Value.Split(',').Skip(1))
            .FirstOrDefault(option => option.StartsWith("gid=", StringComparison.Ordinal));
        return gid is not null && uint.TryParse(gid["gid=".Length..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value)
            ? new GuestGroup(name, value)
            : null;
    }

    private static string Normalize(PlannedLine line) => $"{line.Key}\u0000{line.Value}";
}
