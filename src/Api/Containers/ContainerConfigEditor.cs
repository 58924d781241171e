using GpuLxc.Api.Attachments;
using GpuLxc.Api.Containers.Config;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Infrastructure;

namespace GpuLxc.Api.Containers;

/// <summary>What an edit of a container's config did.</summary>
/// <param name="Changed">Whether the file was written.</param>
/// <param name="Before">The config's bytes as read under the lock.</param>
/// <param name="After">Its bytes now (the same array as <paramref name="Before"/> when nothing changed).</param>
public sealed record ConfigEdit(bool Changed, byte[] Before, byte[] After);

/// <summary>
/// Edits a container's config other than through an attachment (the Docker profile's <c>features:</c>), as
/// <see cref="AttachmentService"/> edits it: under the config's flock (Proxmox's own), refusing a container whose
/// <c>lock:</c> is set, with the edit made on <see cref="ConfigText"/> (main section only, every other byte kept), a
/// backup of the original in the data directory's <c>backups/&lt;backend&gt;/&lt;id&gt;/</c> beside the attachments'
/// (20 kept), and an atomic rename. An attachment edit a killed process left is settled first, under the same lock,
/// so that its intent is judged against the config it wrote and not against this edit.
/// </summary>
public sealed class ContainerConfigEditor(ContainerDirectory containers, IHostFileSystem files, AttachmentRecovery recovery, DataDirectory dataDirectory, TimeProvider time)
{
    private const int BackupsKept = 20;

    /// <summary>
    /// Runs <paramref name="edit"/> on the config read under the lock; writes it when the edit says it changed something.
    /// </summary>
    /// <exception cref="ProblemException">404 when the config does not exist; 409 <see cref="ContainerProblems.Locked"/> when Proxmox's
    /// <c>lock:</c> is set, <see cref="AttachmentProblems.ConfigLocked"/> when the flock is held past <see cref="AttachmentService.LockTimeout"/>.</exception>
    public async Task<ConfigEdit> EditAsync(IContainerBackend backend, string containerId, Func<ConfigText, bool> edit, CancellationToken cancellationToken)
    {
        IDisposable held;
        try
        {
            held = await files.LockAsync(backend.LockPath(containerId), AttachmentService.LockTimeout, cancellationToken);
        }
        catch (HostLockTimeoutException e)
        {
            throw AttachmentProblems.ConfigLocked.With($"{e.Message} Another edit (Proxmox or GpuLxc) is in progress.", "Retry in a moment.");
        }

        using (held)
        {
            await recovery.ResolveLockedAsync(backend, containerId, cancellationToken);
            var (bytes, config) = await containers.ReadConfigAsync(backend, containerId, cancellationToken);
            if (backend.Describe(containerId, config).Lock is { } lockName)
            {
                throw ContainerProblems.Locked.With(
                    $"Container {containerId} has 'lock: {lockName}': Proxmox is running a {lockName} on it.",
                    $"Wait for the {lockName} to finish (or `pct unlock {containerId}` if it was interrupted), then retry.");
            }

            if (!edit(config))
            {
                return new ConfigEdit(false, bytes, bytes);
            }

            var written = config.ToBytes();
            if (written.AsSpan().SequenceEqual(bytes))
            {
                return new ConfigEdit(false, bytes, bytes);
            }

            // The backup first: when it cannot be made, the config is left as it was.
            await BackupAsync(backend, containerId, bytes, cancellationToken);
            await files.WriteAtomicAsync(backend.ConfigPath(containerId), written, cancellationToken);
            return new ConfigEdit(true, bytes, written);
        }
    }

    private async Task BackupAsync(IContainerBackend backend, string containerId, byte[] original, CancellationToken cancellationToken)
    {
        var directory = dataDirectory.Path;
        foreach (var segment in new[] { "backups", backend.Kind.ToString().ToLowerInvariant(), containerId })
        {
            directory = Path.Join(directory, segment);
            Directory.CreateDirectory(directory, DataDirectory.DirectoryMode);
        }

        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = DataDirectory.FileMode };
        await using (var stream = new FileStream(Path.Join(directory, $"{time.GetUtcNow():yyyyMMdd'T'HHmmssfffffff'Z'}.conf"), options))
        {
            await stream.WriteAsync(original, cancellationToken);
        }

        foreach (var old in Directory.GetFiles(directory, "*.conf").Order(StringComparer.Ordinal).SkipLast(BackupsKept))
        {
            File.Delete(old);
        }
    }
}
