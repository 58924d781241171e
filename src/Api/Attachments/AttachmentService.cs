using System.Security.Cryptography;
using GpuLxc.Api.Containers;
using GpuLxc.Api.Containers.Config;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Hosts;
using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.Inventory;

namespace GpuLxc.Api.Attachments;

/// <summary>
/// Attaches and detaches GPUs by editing container configs the way Proxmox itself does (design §4): under the
/// config's flock, refusing locked containers, atomically, with a backup and an audit record, touching only the
/// lines GpuLxc manages.
/// </summary>
public sealed partial class AttachmentService(
    ContainerBackends backends,
    IHostFileSystem files,
    GpuInventory inventory,
    DeviceNodeScanner nodeScanner,
    HostInfoReader hostInfo,
    AttachmentStore store,
    DataDirectory dataDirectory,
    TimeProvider time,
    ILogger<AttachmentService> logger)
{
    public static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(10);
    private const int BackupsKept = 20;

    /// <summary>The backend, after checking that <paramref name="containerId"/> is one of its ids.</summary>
    public IContainerBackend BackendFor(string containerId)
    {
        var backend = backends.Current ?? throw ContainerProblems.NoBackendFound();
        return backend.IsValidId(containerId)
            ? backend
            : throw ContainerProblems.InvalidContainerId(containerId, backend.IdRule);
    }

    public async Task<IReadOnlyList<Container>> ListContainersAsync(CancellationToken cancellationToken)
    {
        var backend = backends.Current ?? throw ContainerProblems.NoBackendFound();
        var statuses = await StatusesAsync(backend, cancellationToken);
        var records = (await store.ListAsync(cancellationToken)).ToDictionary(r => r.ContainerId, StringComparer.Ordinal);
        var context = records.Count > 0 ? await PlanContextAsync(cancellationToken) : null;

        var containers = new List<Container>();
        foreach (var id in backend.ListIds())
        {
            var bytes = await files.TryReadBytesAsync(backend.ConfigPath(id), cancellationToken);
            if (bytes is not null)
            {
                containers.Add(Describe(backend, id, backend.ParseConfig(bytes), statuses.GetValueOrDefault(id), records.GetValueOrDefault(id), context));
            }
        }

        return containers;
    }

    public async Task<Container> GetContainerAsync(string containerId, CancellationToken cancellationToken)
    {
        var backend = BackendFor(containerId);
        var (_, config) = await ReadAsync(backend, containerId, cancellationToken);
        var record = await store.FindAsync(containerId, cancellationToken);
        var status = await backend.StatusAsync(containerId, cancellationToken);
        return Describe(backend, containerId, config, status, record, record is null ? null : await PlanContextAsync(cancellationToken));
    }

    public async Task<(Attachment Attachment, string ETag)> GetAttachmentAsync(string containerId, CancellationToken cancellationToken)
    {
        var backend = BackendFor(containerId);
        var (bytes, config) = await ReadAsync(backend, containerId, cancellationToken);
        var record = await store.FindAsync(containerId, cancellationToken) ?? throw AttachmentProblems.NotAttachedTo(containerId);
        return (ToAttachment(record, config, await PlanContextAsync(cancellationToken), backend.Describe(containerId, config).Unprivileged), ETag(bytes));
    }

    public async Task<IReadOnlyList<Attachment>> ListAttachmentsAsync(CancellationToken cancellationToken)
    {
        var backend = backends.Current ?? throw ContainerProblems.NoBackendFound();
        var records = await store.ListAsync(cancellationToken);
        var context = await PlanContextAsync(cancellationToken);
        var attachments = new List<Attachment>();
        foreach (var record in records.Where(r => r.Backend == backend.Kind.ToString()))
        {
            var bytes = await files.TryReadBytesAsync(backend.ConfigPath(record.ContainerId), cancellationToken) ?? [];
            var config = backend.ParseConfig(bytes);
            attachments.Add(ToAttachment(record, config, context, backend.Describe(record.ContainerId, config).Unprivileged));
        }

        return attachments;
    }

    public async Task<(AttachmentChange Change, string ETag)> AttachAsync(string containerId, AttachRequest request, Edit edit, CancellationToken cancellationToken)
    {
        var backend = BackendFor(containerId);
        (AttachmentChange, string) result;
        using (await LockAsync(backend, containerId, cancellationToken))
        {
            result = await AttachLockedAsync(backend, containerId, request, edit, cancellationToken);
        }

        return await RestartIfAskedAsync(backend, containerId, result, edit);
    }

    public async Task<(AttachmentChange Change, string ETag)> DetachAsync(string containerId, Edit edit, CancellationToken cancellationToken)
    {
        var backend = BackendFor(containerId);
        (AttachmentChange, string) result;
        using (await LockAsync(backend, containerId, cancellationToken))
        {
            result = await DetachLockedAsync(backend, containerId, edit, cancellationToken);
        }

        return await RestartIfAskedAsync(backend, containerId, result, edit);
    }

    private async Task<(AttachmentChange Change, string ETag)> AttachLockedAsync(IContainerBackend backend, string containerId, AttachRequest request, Edit edit, CancellationToken cancellationToken)
    {
        var (bytes, config) = await ReadForEditAsync(backend, containerId, edit.IfMatch, cancellationToken);
        var unprivileged = backend.Describe(containerId, config).Unprivileged;
        var record = await store.FindAsync(containerId, cancellationToken);
        var context = await PlanContextAsync(cancellationToken);
        var plan = Plan(request, context, await backend.SupportsDeviceEntriesAsync(cancellationToken), unprivileged);

        var before = Texts(config);
        var removed = new List<string>();
        foreach (var line in record?.Lines.Where(l => l.Added && !plan.Lines.Any(p => Matches(p, l))) ?? [])
        {
            removed.AddRange(RemoveOne(config, line));
        }

        var lines = new List<RecordedLine>();
        var added = new List<string>();
        foreach (var line in plan.Lines)
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

        var changed = added.Count + removed.Count > 0;
        var newRecord = new AttachmentRecord(containerId, backend.Kind.ToString(), request, plan.Mode, plan.Gpus, lines, plan.Nodes, time.GetUtcNow());
        var saveRecord = changed || record is null || !SameAttachment(record, newRecord);
        var diff = UnifiedDiff.Create(backend.ConfigPath(containerId), before, Texts(config));
        var attachment = ToAttachment(newRecord, config, context, unprivileged);
        return await CommitAsync(backend, containerId, bytes, config, changed, saveRecord ? newRecord : record, saveRecord, "attach",
            attachment, added, removed, diff, edit, cancellationToken);
    }

    private async Task<(AttachmentChange Change, string ETag)> DetachLockedAsync(IContainerBackend backend, string containerId, Edit edit, CancellationToken cancellationToken)
    {
        var (bytes, config) = await ReadForEditAsync(backend, containerId, edit.IfMatch, cancellationToken);
        var record = await store.FindAsync(containerId, cancellationToken);
        if (record is null)
        {
            // Detaching what is not attached is done already: DELETE stays idempotent.
            return (new AttachmentChange(null, false, edit.DryRun, false, false, [], [], ""), ETag(bytes));
        }

        var before = Texts(config);
        var removed = record.Lines.Where(l => l.Added).SelectMany(line => RemoveOne(config, line)).ToList();
        var diff = UnifiedDiff.Create(backend.ConfigPath(containerId), before, Texts(config));
        return await CommitAsync(backend, containerId, bytes, config, removed.Count > 0, null, true, "detach",
            null, [], removed, diff, edit, cancellationToken);
    }

    /// <summary>How an edit is to be made: <c>If-Match</c>, <c>dryRun</c>, <c>restart</c>, and who asks.</summary>
    public sealed record Edit(string? IfMatch, bool DryRun, bool Restart, string? KeyName);

    /// <summary>Proxmox's digest: the SHA-1 of the config bytes, as a strong ETag.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5350", Justification = "Proxmox's config digest is SHA-1; it detects changes, it protects nothing.")]
    public static string ETag(byte[] bytes) => $"\"{Convert.ToHexStringLower(SHA1.HashData(bytes))}\"";

    private async Task<(AttachmentChange, string)> CommitAsync(
        IContainerBackend backend, string containerId, byte[] original, ConfigText config, bool changed,
        AttachmentRecord? record, bool saveRecord, string action, Attachment? attachment,
        List<string> added, List<string> removed, string diff, Edit edit, CancellationToken cancellationToken)
    {
        var running = changed && await backend.StatusAsync(containerId, cancellationToken) == ContainerStatus.Running;
        if (edit.DryRun)
        {
            return (new AttachmentChange(attachment, changed, true, running, false, added, removed, diff), ETag(original));
        }

        var written = original;
        if (changed)
        {
            written = config.ToBytes();
            await BackupAsync(backend, containerId, original, cancellationToken);
            await files.WriteAtomicAsync(backend.ConfigPath(containerId), written, cancellationToken);
            LogEdited(logger, action, containerId, edit.KeyName, added.Count, removed.Count);
        }

        if (saveRecord)
        {
            // The config is written: the record of what GpuLxc added must follow, whether or not the client still waits.
            await store.SaveAsync(containerId, record, edit.KeyName, action, diff, changed ? CancellationToken.None : cancellationToken);
        }

        return (new AttachmentChange(attachment, changed, false, running, false, added, removed, diff), ETag(written));
    }

    /// <summary>
    /// Restarts after the config's lock is released — <c>pct reboot</c> takes the same lock — and whatever the client
    /// does meanwhile: a restart stopped half-way would leave the container down.
    /// </summary>
    private static async Task<(AttachmentChange Change, string ETag)> RestartIfAskedAsync(IContainerBackend backend, string containerId, (AttachmentChange Change, string ETag) result, Edit edit)
    {
        if (!result.Change.RestartRequired || result.Change.DryRun || !edit.Restart)
        {
            return result;
        }

        await backend.RestartAsync(containerId, CancellationToken.None);
        return (result.Change with { RestartRequired = false, Restarted = true }, result.ETag);
    }

    private async Task<IDisposable> LockAsync(IContainerBackend backend, string containerId, CancellationToken cancellationToken)
    {
        try
        {
            return await files.LockAsync(backend.LockPath(containerId), LockTimeout, cancellationToken);
        }
        catch (HostLockTimeoutException e)
        {
            throw AttachmentProblems.ConfigLocked.With(
                $"{e.Message} Another edit (Proxmox or GpuLxc) is in progress.", "Retry in a moment.");
        }
    }

    private async Task<(byte[] Bytes, ConfigText Config)> ReadAsync(IContainerBackend backend, string containerId, CancellationToken cancellationToken)
    {
        var bytes = await files.TryReadBytesAsync(backend.ConfigPath(containerId), cancellationToken)
                    ?? throw ContainerProblems.NoSuchContainer(containerId, backend.ConfigPath(containerId));
        return (bytes, backend.ParseConfig(bytes));
    }

    private async Task<(byte[] Bytes, ConfigText Config)> ReadForEditAsync(IContainerBackend backend, string containerId, string? ifMatch, CancellationToken cancellationToken)
    {
        var (bytes, config) = await ReadAsync(backend, containerId, cancellationToken);
        var etag = ETag(bytes);
        if (ifMatch is not null && ifMatch.Trim() != "*" &&
            !ifMatch.Split(',').Select(tag => tag.Trim()).Any(tag => tag == etag || tag == $"W/{etag}"))
        {
            throw AttachmentProblems.ConfigChanged.With(
                $"If-Match {ifMatch} does not match the config's current ETag {etag}.", "GET the attachment again and retry with its ETag.");
        }

        if (backend.Describe(containerId, config).Lock is { } lockName)
        {
            throw ContainerProblems.Locked.With(
                $"Container {containerId} has 'lock: {lockName}': Proxmox is running a {lockName} on it.",
                $"Wait for the {lockName} to finish (or `pct unlock {containerId}` if it was interrupted), then retry.");
        }

        return (bytes, config);
    }

    private async Task BackupAsync(IContainerBackend backend, string containerId, byte[] original, CancellationToken cancellationToken)
    {
        var directory = Path.Join(dataDirectory.Path, "backups", backend.Kind.ToString().ToLowerInvariant(), containerId);
        Directory.CreateDirectory(directory);
        var name = $"{time.GetUtcNow():yyyyMMdd'T'HHmmssfffffff'Z'}.conf";
        await File.WriteAllBytesAsync(Path.Join(directory, name), original, cancellationToken);
        foreach (var old in Directory.GetFiles(directory, "*.conf").Order(StringComparer.Ordinal).SkipLast(BackupsKept))
        {
            File.Delete(old);
        }
    }

    private async Task<IReadOnlyDictionary<string, ContainerStatus>> StatusesAsync(IContainerBackend backend, CancellationToken cancellationToken)
    {
        try
        {
            return await backend.StatusesAsync(cancellationToken);
        }
        catch (Exception e) when (e is ContainerBackendException or HostCommandNotFoundException or HostCommandTimeoutException)
        {
            LogStatusUnavailable(logger, e.Message);
            return new Dictionary<string, ContainerStatus>();
        }
    }

    private static Container Describe(IContainerBackend backend, string id, ConfigText config, ContainerStatus status, AttachmentRecord? record, PlanContext? context)
    {
        var (name, unprivileged, osType, lockName) = backend.Describe(id, config);
        var summary = record is null || context is null
            ? null
            : new AttachmentSummary(record.Mode, record.Gpus, DriftOf(record, config, context, unprivileged).Status);
        return new Container(id, name, status, unprivileged, osType, lockName, summary);
    }

    private static Attachment ToAttachment(AttachmentRecord record, ConfigText config, PlanContext context, bool unprivileged) => new(
        record.ContainerId,
        record.Mode,
        record.Gpus,
        record.Lines.Select(l => new ManagedLine(l.Key, l.Value, config.Find(l.Key, l.Value).Any())).ToList(),
        record.Nodes,
        DriftOf(record, config, context, unprivileged),
        record.UpdatedAt);

    /// <summary>Replans the recorded request against the host as it is now and compares with what the config says.</summary>
    private static Drift DriftOf(AttachmentRecord record, ConfigText config, PlanContext context, bool unprivileged)
    {
        var fix = $"PUT /api/v1/containers/{record.ContainerId}/gpu again (with the same body) to rewrite the lines.";
        AttachmentPlan plan;
        try
        {
            plan = Plan(record.Request with { Mode = record.Mode }, context, deviceEntriesSupported: true, unprivileged);
        }
        catch (ProblemException e)
        {
            return new Drift(DriftStatus.NodesMissing, e.Message, e.Fix);
        }

        var planned = plan.Lines.Select(Normalize).Order(StringComparer.Ordinal);
        var recorded = record.Lines.Select(l => Normalize(new PlannedLine(IsDeviceKey(l.Key) ? PlannedLine.DevicesKey : l.Key, l.Value))).Order(StringComparer.Ordinal);
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

    private static AttachmentPlan Plan(AttachRequest request, PlanContext context, bool deviceEntriesSupported, bool unprivileged)
    {
        try
        {
            return AttachmentPlanner.Plan(request, context.Gpus, context.Nodes, context.Cgroup, deviceEntriesSupported, unprivileged);
        }
        catch (PlanException e)
        {
            throw AttachmentProblems.CannotAttach.With(e.Message, e.Fix);
        }
    }

    /// <summary>The host facts every plan reads: GPUs, device nodes (majors read now) and the cgroup version.</summary>
    private async Task<PlanContext> PlanContextAsync(CancellationToken cancellationToken)
    {
        var gpus = await inventory.TopologyGpusAsync(refresh: false, cancellationToken);
        return new PlanContext(gpus, await nodeScanner.ScanAsync(GpuInventory.BoundMinors(gpus), cancellationToken), hostInfo.ReadCgroupVersion());
    }

    private static (string Key, string Value)? Present(ConfigText config, PlannedLine line) =>
        line.IsDeviceEntry
            ? config.Settings().Where(s => IsDeviceKey(s.Key) && s.Value == line.Value).Select(s => ((string, string)?)s).FirstOrDefault()
            : config.Find(line.Key, line.Value).Any() ? (line.Key, line.Value) : null;

    /// <summary>Removes the last occurrence of a line GpuLxc added (the one it appended), never any other.</summary>
    private static IEnumerable<string> RemoveOne(ConfigText config, RecordedLine line)
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

    private static string FreeDeviceKey(ConfigText config)
    {
        var used = config.Settings().Select(s => s.Key).Where(IsDeviceKey).ToHashSet(StringComparer.Ordinal);
        return Enumerable.Range(0, 256).Select(i => $"dev{i}").First(key => !used.Contains(key));
    }

    private static bool IsDeviceKey(string key) => key.Length > 3 && key.StartsWith("dev", StringComparison.Ordinal) && key[3..].All(char.IsAsciiDigit);

    private static bool Matches(PlannedLine planned, RecordedLine recorded) =>
        planned.Value == recorded.Value && (planned.IsDeviceEntry ? IsDeviceKey(recorded.Key) : planned.Key == recorded.Key);

    private static string Normalize(PlannedLine line) => $"{line.Key}\u0000{line.Value}";

    private static bool SameAttachment(AttachmentRecord a, AttachmentRecord b) =>
        a.Mode == b.Mode && SameRequest(a.Request, b.Request) && a.Gpus.SequenceEqual(b.Gpus) && a.Lines.SequenceEqual(b.Lines) && a.Nodes.SequenceEqual(b.Nodes);

    /// <summary>Records compare lists by reference; requests are the same when their GPU lists hold the same ids.</summary>
    private static bool SameRequest(AttachRequest a, AttachRequest b) =>
        a with { Gpus = null } == b with { Gpus = null } && (a.Gpus ?? []).SequenceEqual(b.Gpus ?? [], StringComparer.Ordinal);

    private static List<string> Texts(ConfigText config) => config.Lines.Select(l => l.Text).ToList();

    private sealed record PlanContext(IReadOnlyList<Gpu> Gpus, DeviceNodeScan Nodes, CgroupVersion Cgroup);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Action} container {ContainerId} by key {KeyName}: {Added} line(s) added, {Removed} removed")]
    private static partial void LogEdited(ILogger logger, string action, string containerId, string? keyName, int added, int removed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Container statuses are unavailable: {Reason}")]
    private static partial void LogStatusUnavailable(ILogger logger, string reason);
}
