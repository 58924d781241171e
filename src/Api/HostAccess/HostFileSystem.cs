using GpuLxc.Api.Infrastructure;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.HostAccess;

/// <summary>
/// Read access to host files, every path resolved under <c>GpuLxc:Host:Root</c>. Paths are absolute host paths
/// (<c>/proc/driver/nvidia/version</c>); a path that would leave the root is refused.
/// </summary>
public interface IHostFileSystem
{
    bool FileExists(string hostPath);

    bool DirectoryExists(string hostPath);

    /// <summary>The file's text, or null when it does not exist or cannot be read.</summary>
    Task<string?> TryReadTextAsync(string hostPath, CancellationToken cancellationToken);

    /// <summary>The host paths of the entries of a directory (empty when it does not exist), sorted ordinally.</summary>
    IReadOnlyList<string> ListDirectory(string hostPath, string searchPattern = "*");

    /// <summary><c>stat(2)</c> of the path itself (a final symlink is not followed), or null when it does not exist.</summary>
    HostFileStat? Stat(string hostPath);

    /// <summary>The last segment of a symlink's target (<c>driver</c> → <c>nvidia</c>), or null when it is not a symlink.</summary>
    string? ReadLinkName(string hostPath);

    /// <summary>The file's bytes, or null when it does not exist.</summary>
    Task<byte[]?> TryReadBytesAsync(string hostPath, CancellationToken cancellationToken);

    /// <summary>Up to the first <paramref name="count"/> bytes of the file (e.g. an ELF or <c>#!</c> magic), or null when it cannot be read.</summary>
    Task<byte[]?> TryReadHeadAsync(string hostPath, int count, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the file atomically: a temporary file in the same directory (<c>.&lt;name&gt;.gpulxc-&lt;guid&gt;.tmp</c>),
    /// flushed to disk, keeping the old file's mode, then renamed over it. Readers see the old bytes or the new, never
    /// a mix. Temporary files an earlier, killed writer left beside this file are removed first: the caller holds the
    /// file's lock, so no other writer of this file is running.
    /// </summary>
    Task WriteAtomicAsync(string hostPath, byte[] bytes, CancellationToken cancellationToken);

    /// <summary>
    /// The temporary files <see cref="WriteAtomicAsync"/> left in <paramref name="hostDirectory"/> when its process
    /// was killed between creating and renaming them, each with the host path of the file it was meant to replace.
    /// </summary>
    IReadOnlyList<(string Temporary, string Target)> ListTemporaryFiles(string hostDirectory);

    /// <summary>Removes a file; nothing happens when it does not exist.</summary>
    void DeleteFile(string hostPath);

    /// <summary>Creates the directory and its parents (mode 0755) when missing.</summary>
    void CreateDirectory(string hostPath);

    /// <summary>The path on this machine for a host path: what a host command is given as an argument.</summary>
    string LocalPath(string hostPath);

    /// <summary>
    /// An exclusive <c>flock(2)</c> on a lock file (created if missing, never deleted), as Proxmox takes on
    /// <c>/run/lock/lxc/pve-config-&lt;vmid&gt;.lock</c>; released on dispose.
    /// </summary>
    /// <exception cref="HostLockTimeoutException">Another holder kept the lock past <paramref name="timeout"/>.</exception>
    Task<IDisposable> LockAsync(string hostPath, TimeSpan timeout, CancellationToken cancellationToken);
}

/// <summary>Someone else held a host lock for longer than the caller would wait.</summary>
public sealed class HostLockTimeoutException(string path, TimeSpan timeout)
    : Exception($"{path} stayed locked by another process for {timeout.TotalSeconds:0.#} s.")
{
    public string Path { get; } = path;
}

internal sealed class HostFileSystem(IOptions<HostAccessOptions> options) : IHostFileSystem
{
    private readonly string _root = Path.GetFullPath(options.Value.Root);

    public bool FileExists(string hostPath) => File.Exists(Resolve(hostPath));

    public bool DirectoryExists(string hostPath) => Directory.Exists(Resolve(hostPath));

    public async Task<string?> TryReadTextAsync(string hostPath, CancellationToken cancellationToken)
    {
        try
        {
            return await File.ReadAllTextAsync(Resolve(hostPath), cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public IReadOnlyList<string> ListDirectory(string hostPath, string searchPattern = "*")
    {
        var directory = Resolve(hostPath);
        if (!Directory.Exists(directory))
        {
            return [];
        }

        var prefix = hostPath.TrimEnd('/');
        return Directory.EnumerateFileSystemEntries(directory, searchPattern)
            .Select(entry => $"{prefix}/{Path.GetFileName(entry)}")
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    public HostFileStat? Stat(string hostPath) => Statx.Stat(Resolve(hostPath));

    public string? ReadLinkName(string hostPath)
    {
        var target = new FileInfo(Resolve(hostPath)).LinkTarget;
        return target is null ? null : Path.GetFileName(target.TrimEnd('/'));
    }

    public async Task<byte[]?> TryReadBytesAsync(string hostPath, CancellationToken cancellationToken)
    {
        try
        {
            return await File.ReadAllBytesAsync(Resolve(hostPath), cancellationToken);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    public async Task<byte[]?> TryReadHeadAsync(string hostPath, int count, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = File.OpenRead(Resolve(hostPath));
            var head = new byte[count];
            var read = await stream.ReadAtLeastAsync(head, count, throwOnEndOfStream: false, cancellationToken);
            return head[..read];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public async Task WriteAtomicAsync(string hostPath, byte[] bytes, CancellationToken cancellationToken)
    {
        var path = Resolve(hostPath);
        var directory = Path.GetDirectoryName(path)!;
        foreach (var stale in Directory.EnumerateFiles(directory, TemporaryPattern(Path.GetFileName(path))))
        {
            File.Delete(stale);
        }

        var temporary = Path.Join(directory, $".{Path.GetFileName(path)}{TemporaryInfix}{Guid.NewGuid():N}{TemporarySuffix}");
        var mode = File.Exists(path) ? File.GetUnixFileMode(path) : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = mode };
            await using (var stream = new FileStream(temporary, options))
            {
                CrashPoints.Reach(CrashPoints.TemporaryCreated);
                await stream.WriteAsync(bytes, cancellationToken);
                stream.Flush(flushToDisk: true);
            }

            CrashPoints.Reach(CrashPoints.TemporaryWritten);
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    public IReadOnlyList<(string Temporary, string Target)> ListTemporaryFiles(string hostDirectory)
    {
        var prefix = hostDirectory.TrimEnd('/');
        var found = new List<(string, string)>();
        foreach (var temporary in ListDirectory(hostDirectory, TemporaryPattern("*")))
        {
            var name = Path.GetFileName(temporary);
            var infix = name.LastIndexOf(TemporaryInfix, StringComparison.Ordinal);
            if (infix > 1)
            {
                found.Add((temporary, $"{prefix}/{name[1..infix]}"));
            }
        }

        return found;
    }

    public void DeleteFile(string hostPath) => File.Delete(Resolve(hostPath));

    public void CreateDirectory(string hostPath) => Directory.CreateDirectory(Resolve(hostPath));

    public string LocalPath(string hostPath) => Resolve(hostPath);

    public async Task<IDisposable> LockAsync(string hostPath, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var path = Resolve(hostPath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                // FileShare.None is what makes .NET take flock(LOCK_EX); any other share mode takes LOCK_SH.
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException e) when (e.HResult == EWouldBlock && DateTime.UtcNow < deadline)
            {
                await Task.Delay(LockPollInterval, cancellationToken);
            }
            catch (IOException e) when (e.HResult == EWouldBlock)
            {
                throw new HostLockTimeoutException(hostPath, timeout);
            }
        }
    }

    private static readonly TimeSpan LockPollInterval = TimeSpan.FromMilliseconds(10);

    private const string TemporaryInfix = ".gpulxc-";
    private const string TemporarySuffix = ".tmp";

    /// <summary>The glob of the temporary files of <paramref name="fileName"/> (a name or <c>*</c>).</summary>
    private static string TemporaryPattern(string fileName) => $".{fileName}{TemporaryInfix}*{TemporarySuffix}";

    /// <summary>The errno .NET reports when flock(LOCK_EX | LOCK_NB) finds the lock held; any other error is real.</summary>
    private const int EWouldBlock = 11;

    /// <summary>The path on this machine for <paramref name="hostPath"/>.</summary>
    internal string Resolve(string hostPath) => HostPaths.Resolve(_root, hostPath);
}

public static class HostPaths
{
    /// <summary>Joins an absolute host path to the root, refusing relative paths and <c>..</c> segments.</summary>
    public static string Resolve(string root, string hostPath)
    {
        if (!hostPath.StartsWith('/') || hostPath.Contains('\0', StringComparison.Ordinal) ||
            hostPath.Split('/').Any(segment => segment == ".."))
        {
            throw new ArgumentException($"'{hostPath}' is not an absolute host path without '..' segments.", nameof(hostPath));
        }

        return root == "/" ? hostPath : Path.Join(root, hostPath);
    }
}
