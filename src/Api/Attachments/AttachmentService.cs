// Over 300 lines: the whole write path (settle, plan unlocked, lock, intent, rename, record) stays in one file so that its order reads top to bottom.
using System.Security.Cryptography;
using GpuLxc.Api.Containers;
using GpuLxc.Api.Containers.Config;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Infrastructure;

namespace GpuLxc.Api.Attachments;

/// <summary>
/// Attaches and detaches GPUs by editing container configs the way Proxmox itself does (design §4): under the
/// config's flock, refusing locked containers, atomically, with a backup and an audit record, touching only the
/// lines GpuLxc manages. Each edit goes lock → read → plan → commit, then restart outside the lock; which lines
/// change is <see cref="AttachmentEdit"/>'s, whether an attachment still holds is <see cref="DriftCheck"/>'s.
/// Crash-consistent (issue 15): a commit stores an <see cref="AttachmentIntent"/> before the rename and settles it
/// with the record after; <see cref="AttachmentRecovery"/> settles what a killed process left, and a config with
/// GpuLxc's lines but no record is read through <see cref="OrphanedLines"/>. An edit is planned once without the lock
/// first: a refused request or a dry run answers from that and leaves no trace on the host, not even a lock file.
/// </summary>
public sealed partial class AttachmentService(
    ContainerDirectory containers,
    IHostFileSystem files,
    PlanContextReader planContexts,
    AttachmentStore store,
    AttachmentIntents intents,
    AttachmentRecovery recovery,
    GuestGroupReader guestGroups,
    DataDirectory dataDirectory,
    DriftEvents driftEvents,
    TimeProvider time,
    ILogger<AttachmentService> logger)
{
    /// <summary>How long an edit waits for the config's flock (Proxmox's own edits hold it) before answering 409.</summary>
    public static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(10);
    private const int BackupsKept = 20;

    /// <summary>
    /// The container's attachment with its drift, and the config's ETag. 409 with no backend, 400 for an invalid id, 404
    /// when the container or the attachment does not exist.
    /// </summary>
    public async Task<(Attachment Attachment, string ETag)> GetAttachmentAsync(string containerId, CancellationToken cancellationToken)
    {
        var backend = containers.BackendFor(containerId);
        await SettleAsync(backend, containerId, cancellationToken);
        var (bytes, config) = await containers.ReadConfigAsync(backend, containerId, cancellationToken);
        var context = await planContexts.ReadAsync(cancellationToken);
        var unprivileged = backend.Describe(containerId, config).Unprivileged;
        var (record, _) = await FindRecordAsync(backend, containerId, config, context, unprivileged, cancellationToken);
        var attachment = ToAttachment(record ?? throw AttachmentProblems.NotAttachedTo(containerId), config, context, unprivileged) with
        {
            Confinement = await ConfinementAsync(backend, config, unprivileged, cancellationToken),
        };
        driftEvents.Observe(attachment);
        return (attachment, ETag(bytes));
    }

    /// <summary>
    /// Every attachment GpuLxc made through the backend in effect, with drift; a config removed meanwhile reads as empty,
    /// so its lines show as gone. 409 with no backend.
    /// </summary>
    public async Task<IReadOnlyList<Attachment>> ListAttachmentsAsync(CancellationToken cancellationToken)
    {
        var backend = containers.CurrentBackend();
        var records = await store.ListAsync(cancellationToken);
        var context = await planContexts.ReadAsync(cancellationToken);
        var attachments = new List<Attachment>();
        foreach (var record in records.Where(r => r.Backend == backend.Kind.ToString()))
        {
            var bytes = await files.TryReadBytesAsync(backend.ConfigPath(record.ContainerId), cancellationToken) ?? [];
            var config = backend.ParseConfig(bytes);
            var unprivileged = backend.Describe(record.ContainerId, config).Unprivileged;
            attachments.Add(ToAttachment(record, config, context, unprivileged) with { Confinement = await ConfinementAsync(backend, config, unprivileged, cancellationToken) });
            driftEvents.Observe(attachments[^1]);
        }

        return attachments;
    }

    /// <summary>
    /// Makes the config hold the lines <paramref name="request"/> plans (idempotent), and restarts a running container when
    /// asked; returns the change and the config's new ETag. 409 with no backend, when the flock is held past
    /// <see cref="LockTimeout"/>, when Proxmox's <c>lock:</c> is set, or when the plan cannot be made on this host; 400 for
    /// an invalid id; 404 when the container does not exist; 412 when <c>If-Match</c> is stale;
    /// <see cref="ContainerBackendException"/> when the restart fails.
    /// </summary>
    public async Task<(AttachmentChange Change, string ETag)> AttachAsync(string containerId, AttachRequest request, Edit edit, CancellationToken cancellationToken)
    {
        var backend = containers.BackendFor(containerId);
        await SettleAsync(backend, containerId, cancellationToken);
        var preview = await PrepareAttachAsync(backend, containerId, request, edit.IfMatch, cancellationToken);
        if (edit.DryRun || !preview.SaveRecord)
        {
            return await CommitAsync(preview, edit, cancellationToken);
        }

        (AttachmentChange, string) result;
        using (await LockAsync(backend, containerId, cancellationToken))
        {
            await recovery.ResolveLockedAsync(backend, containerId, cancellationToken);
            result = await CommitAsync(await PrepareAttachAsync(backend, containerId, request, edit.IfMatch, cancellationToken), edit, cancellationToken);
        }

        return await RestartIfAskedAsync(backend, containerId, result, edit);
    }

    /// <summary>
    /// Removes the lines GpuLxc added (idempotent: with no attachment it changes nothing), and restarts as for
    /// <see cref="AttachAsync"/>; the same problems, less the plan's.
    /// </summary>
    public async Task<(AttachmentChange Change, string ETag)> DetachAsync(string containerId, Edit edit, CancellationToken cancellationToken)
    {
        var backend = containers.BackendFor(containerId);
        await SettleAsync(backend, containerId, cancellationToken);
        var preview = await PrepareDetachAsync(backend, containerId, edit.IfMatch, cancellationToken);
        if (edit.DryRun || !preview.SaveRecord)
        {
            return await CommitAsync(preview, edit, cancellationToken);
        }

        (AttachmentChange, string) result;
        using (await LockAsync(backend, containerId, cancellationToken))
        {
            await recovery.ResolveLockedAsync(backend, containerId, cancellationToken);
            result = await CommitAsync(await PrepareDetachAsync(backend, containerId, edit.IfMatch, cancellationToken), edit, cancellationToken);
        }

        return await RestartIfAskedAsync(backend, containerId, result, edit);
    }

    private async Task<PendingChange> PrepareAttachAsync(IContainerBackend backend, string containerId, AttachRequest request, string? ifMatch, CancellationToken cancellationToken)
    {
        var (bytes, config) = await ReadForEditAsync(backend, containerId, ifMatch, cancellationToken);
        var unprivileged = backend.Describe(containerId, config).Unprivileged;
        var context = await planContexts.ReadAsync(cancellationToken);
        var (record, stored) = await FindRecordAsync(backend, containerId, config, context, unprivileged, cancellationToken);
        var plan = await PlanAsync(backend, containerId, config, request, context, unprivileged, cancellationToken);
        GpuIdentity.RefuseIndexThatMoves(containerId, request, record, plan, context.Gpus);

        var before = Texts(config);
        var lines = AttachmentEdit.Attach(config, record, plan.Lines);
        var newRecord = new AttachmentRecord(containerId, backend.Kind.ToString(), GpuIdentity.Resolved(request, plan), plan.Mode, plan.Gpus, lines.Lines, plan.Nodes, time.GetUtcNow());
        var saveRecord = lines.Changed || !stored || !AttachmentEdit.SameAttachment(record!, newRecord);
        var diff = UnifiedDiff.Create(backend.ConfigPath(containerId), before, Texts(config));
        var attachment = ToAttachment(newRecord, config, context, unprivileged) with { Confinement = await ConfinementAsync(backend, config, unprivileged, cancellationToken) };
        // Hand-made lines are numbered in the file the caller will read: the one written, or for a dry run the one as it is.
        var managed = lines.Lines.Select(l => (l.Key, l.Value)).ToList();
        IReadOnlyList<HandMadeLine> HandMade(ConfigText text) => HandMadeLine.Of(
            GpuConfigAuditor.Audit(backend.ConfigPath(containerId), text, backend.Kind == HostBackend.Proxmox, context.Cgroup, context.Nodes.CharacterMajors, files.Stat), text, managed);
        return new PendingChange(backend, containerId, "attach", bytes, config, lines.Added, lines.Removed, diff,
            saveRecord ? newRecord : record, saveRecord, attachment, plan.Warnings, HandMade(config), HandMade(backend.ParseConfig(bytes)));
    }

    /// <summary>The detach to make; one that changes nothing when the container has no attachment, stored or recognisable in its config.</summary>
    private async Task<PendingChange> PrepareDetachAsync(IContainerBackend backend, string containerId, string? ifMatch, CancellationToken cancellationToken)
    {
        var (bytes, config) = await ReadForEditAsync(backend, containerId, ifMatch, cancellationToken);
        var context = await planContexts.ReadAsync(cancellationToken);
        var (record, _) = await FindRecordAsync(backend, containerId, config, context, backend.Describe(containerId, config).Unprivileged, cancellationToken);
        if (record is null)
        {
            // Detaching what is not attached is done already: DELETE stays idempotent.
            return new PendingChange(backend, containerId, "detach", bytes, config, [], [], "", null, false, null);
        }

        var before = Texts(config);
        var removed = AttachmentEdit.Detach(config, record);
        var diff = UnifiedDiff.Create(backend.ConfigPath(containerId), before, Texts(config));
        return new PendingChange(backend, containerId, "detach", bytes, config, [], removed, diff, null, true, null);
    }

    /// <summary>How an edit is to be made: <c>If-Match</c>, <c>dryRun</c>, <c>restart</c>, and who asks.</summary>
    public sealed record Edit(string? IfMatch, bool DryRun, bool Restart, string? KeyName);

    /// <summary>Proxmox's digest: the SHA-1 of the config bytes, as a strong ETag.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5350", Justification = "Proxmox's config digest is SHA-1; it detects changes, it protects nothing.")]
    public static string ETag(byte[] bytes) => $"\"{Convert.ToHexStringLower(SHA1.HashData(bytes))}\"";

    /// <summary>
    /// An edit made in memory under the lock, ready to commit: the config as read (<c>Original</c>) and as edited
    /// (<c>Config</c>), the lines that changed and their diff, the record to save (null: delete it) when
    /// <c>SaveRecord</c>, the audit trail's <c>Action</c> (<c>attach</c>, <c>detach</c>), and the attachment to answer
    /// with (null after a detach).
    /// </summary>
    private sealed record PendingChange(
        IContainerBackend Backend, string ContainerId, string Action, byte[] Original, ConfigText Config,
        IReadOnlyList<string> Added, IReadOnlyList<string> Removed, string Diff,
        AttachmentRecord? Record, bool SaveRecord, Attachment? Attachment,
        IReadOnlyList<AttachmentWarning>? Warnings = null, IReadOnlyList<HandMadeLine>? HandMadeLines = null, IReadOnlyList<HandMadeLine>? HandMadeLinesNow = null)
    {
        public bool Changed => Added.Count + Removed.Count > 0;
    }

    private async Task<(AttachmentChange, string)> CommitAsync(PendingChange change, Edit edit, CancellationToken cancellationToken)
    {
        var (backend, containerId) = (change.Backend, change.ContainerId);
        var running = change.Changed && await backend.StatusAsync(containerId, cancellationToken) == ContainerStatus.Running;
        if (edit.DryRun)
        {
            return (new AttachmentChange(change.Attachment, change.Changed, true, running, false, change.Added, change.Removed, change.Diff, change.Warnings ?? [], change.HandMadeLinesNow), ETag(change.Original));
        }

        var written = change.Original;
        if (change.Changed)
        {
            written = change.Config.ToBytes();
            // The backup first: when it cannot be made, the config is left as it was.
            await BackupAsync(backend, containerId, change.Original, cancellationToken);
            CrashPoints.Reach(CrashPoints.BackupWritten);
            var intent = new AttachmentIntent(containerId, backend.Kind.ToString(), AttachmentIntent.Sha1(change.Original), AttachmentIntent.Sha1(written),
                change.Record, edit.KeyName, change.Action, change.Diff, time.GetUtcNow());
            await intents.OpenAsync(intent, cancellationToken);
            CrashPoints.Reach(CrashPoints.IntentWritten);
            await files.WriteAtomicAsync(backend.ConfigPath(containerId), written, cancellationToken);
            CrashPoints.Reach(CrashPoints.Renamed);
            LogEdited(logger, change.Action, containerId, edit.KeyName, change.Added.Count, change.Removed.Count);
            // The config is written: the record of what GpuLxc added must follow, whether or not the client still waits.
            await intents.CompleteAsync(intent, CancellationToken.None);
            CrashPoints.Reach(CrashPoints.Recorded);
        }
        else if (change.SaveRecord)
        {
            await store.SaveAsync(containerId, change.Record, edit.KeyName, change.Action, change.Diff, cancellationToken);
        }

        return (new AttachmentChange(change.Attachment, change.Changed, false, running, false, change.Added, change.Removed, change.Diff, change.Warnings ?? [], change.HandMadeLines), ETag(written));
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
            throw Locked(e);
        }
    }

    /// <summary>Settles an edit a killed process left on the container (a no-op, and no lock taken, when there is none).</summary>
    private async Task SettleAsync(IContainerBackend backend, string containerId, CancellationToken cancellationToken)
    {
        try
        {
            await recovery.ResolveAsync(backend, containerId, cancellationToken);
        }
        catch (HostLockTimeoutException e)
        {
            throw Locked(e);
        }
    }

    private static ProblemException Locked(HostLockTimeoutException e) => AttachmentProblems.ConfigLocked.With(
        $"{e.Message} Another edit (Proxmox or GpuLxc) is in progress.", "Retry in a moment.");

    /// <summary>
    /// The stored record, or one rebuilt from GpuLxc's lines in the config when there is none (<c>Stored</c> false);
    /// null when the config holds none of GpuLxc's lines either.
    /// </summary>
    private async Task<(AttachmentRecord? Record, bool Stored)> FindRecordAsync(
        IContainerBackend backend, string containerId, ConfigText config, PlanContext context, bool unprivileged, CancellationToken cancellationToken) =>
        await store.FindAsync(containerId, cancellationToken) is { } stored
            ? (stored, true)
            : (OrphanedLines.Recognize(containerId, backend.Kind.ToString(), config, context, unprivileged, time.GetUtcNow()), false);

    private async Task<(byte[] Bytes, ConfigText Config)> ReadForEditAsync(IContainerBackend backend, string containerId, string? ifMatch, CancellationToken cancellationToken)
    {
        var (bytes, config) = await containers.ReadConfigAsync(backend, containerId, cancellationToken);
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
        // Each level 0700 and the copy 0600: a config can hold secrets, and the data dir is the owner's alone.
        var directory = dataDirectory.Path;
        foreach (var segment in new[] { "backups", backend.Kind.ToString().ToLowerInvariant(), containerId })
        {
            directory = Path.Join(directory, segment);
            Directory.CreateDirectory(directory, DataDirectory.DirectoryMode);
        }

        var name = $"{time.GetUtcNow():yyyyMMdd'T'HHmmssfffffff'Z'}.conf";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = DataDirectory.FileMode };
        await using (var stream = new FileStream(Path.Join(directory, name), options))
        {
            await stream.WriteAsync(original, cancellationToken);
        }

        foreach (var old in Directory.GetFiles(directory, "*.conf").Order(StringComparer.Ordinal).SkipLast(BackupsKept))
        {
            File.Delete(old);
        }
    }

    private static Attachment ToAttachment(AttachmentRecord record, ConfigText config, PlanContext context, bool unprivileged) => new(
        record.ContainerId,
        record.Mode,
        record.Gpus,
        record.Lines.Select(l => new ManagedLine(l.Key, l.Value, config.Find(l.Key, l.Value).Any())).ToList(),
        record.Nodes.Select(n => DrmNodeNow(n, context)).ToList(),
        DriftCheck.Of(record, config, context, unprivileged),
        record.UpdatedAt,
        Drm: record.Request.Drm ?? []);

    /// <summary>A DRM node as its link resolves now (the card order may have changed since the attach); the others as recorded.</summary>
    private static AttachedNode DrmNodeNow(AttachedNode node, PlanContext context)
    {
        if (node.InsidePath is null || !RenderNodes.IsDrmPath(node.Path))
        {
            return node;
        }

        var now = (context.Drm ?? []).SelectMany(d => d.Nodes).FirstOrDefault(n => n.ByPath == node.Path && n.Usable);
        return now is null ? node with { ResolvesTo = null } : node with { ResolvesTo = now.Path, Major = now.Major!.Value, Minor = now.Minor!.Value };
    }

    /// <summary>
    /// Whether the container denies devices by default (<see cref="DeviceConfinement"/>), and, when its lines allow the
    /// whole DRM major, how wide that rule is.
    /// </summary>
    private async Task<DeviceConfinement> ConfinementAsync(IContainerBackend backend, ConfigText config, bool unprivileged, CancellationToken cancellationToken)
    {
        var confinement = await DeviceConfinement.ReadAsync(config, backend.Kind == HostBackend.Proxmox, unprivileged, files, cancellationToken);
        var majors = Inventory.NvidiaProcFs.ParseCharacterDevices(await files.TryReadTextAsync("/proc/devices", cancellationToken) ?? "");
        return config.Settings().FirstOrDefault(s => RenderNodes.IsWholeMajorRule(s.Key, s.Value.Trim(), majors)) is { Key: not null } rule
            ? confinement.WithWholeMajor(config.FormatSetting(rule.Key, rule.Value), unprivileged)
            : confinement;
    }

    /// <summary>
    /// The plan, with the container's group when the request names one, checked against what the container can open
    /// through its idmap (<see cref="GuestAccess"/>). 409 <see cref="AttachmentProblems.NodesUnusableInside"/> when it
    /// could not open the nodes, <see cref="AttachmentProblems.CannotAttach"/> for every other reason the plan cannot be made.
    /// </summary>
    private async Task<AttachmentPlan> PlanAsync(
        IContainerBackend backend, string containerId, ConfigText config, AttachRequest request, PlanContext context, bool unprivileged, CancellationToken cancellationToken)
    {
        try
        {
            var group = request.Group is null ? null : await guestGroups.FindAsync(backend, containerId, config, request.Group, cancellationToken);
            var plan = UserspaceMounts.Add(
                AttachmentPlanner.Plan(request, context.Gpus, context.Nodes, context.Cgroup, await backend.SupportsDeviceEntriesAsync(cancellationToken), unprivileged, context.Boot, group, context.Drm),
                request, context.Userspace);
            var idmap = unprivileged ? IdMap.Of(config, backend.Kind == HostBackend.Proxmox) : null;
            return GuestAccess.Check(plan, context.Nodes, idmap, group, SubordinateGids.Parse(await files.TryReadTextAsync("/etc/subgid", cancellationToken)), containerId);
        }
        catch (PlanException e)
        {
            throw (e.Status == DriftStatus.NodesUnusable ? AttachmentProblems.NodesUnusableInside : AttachmentProblems.CannotAttach).With(e.Message, e.Fix);
        }
    }

    private static List<string> Texts(ConfigText config) => config.Lines.Select(l => l.Text).ToList();

    [LoggerMessage(Level = LogLevel.Information, Message = "{Action} container {ContainerId} by key {KeyName}: {Added} line(s) added, {Removed} removed")]
    private static partial void LogEdited(ILogger logger, string action, string containerId, string? keyName, int added, int removed);
}
