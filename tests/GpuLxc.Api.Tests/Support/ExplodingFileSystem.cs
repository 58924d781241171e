using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Tests.Support;

/// <summary>A host whose every file operation throws what <paramref name="explosion"/> makes.</summary>
internal sealed class ExplodingFileSystem(Func<Exception> explosion) : IHostFileSystem
{
    public bool FileExists(string hostPath) => throw explosion();

    public bool DirectoryExists(string hostPath) => throw explosion();

    public Task<string?> TryReadTextAsync(string hostPath, CancellationToken cancellationToken) =>
        throw explosion();

    public IReadOnlyList<string> ListDirectory(string hostPath, string searchPattern = "*") =>
        throw explosion();

    public HostFileStat? Stat(string hostPath) => throw explosion();

    public string? ReadLinkName(string hostPath) => throw explosion();

    public Task<byte[]?> TryReadBytesAsync(string hostPath, CancellationToken cancellationToken) => throw explosion();

    public Task WriteAtomicAsync(string hostPath, byte[] bytes, CancellationToken cancellationToken) => throw explosion();

    public IReadOnlyList<(string Temporary, string Target)> ListTemporaryFiles(string hostDirectory) => throw explosion();

    public Task<byte[]?> TryReadHeadAsync(string hostPath, int count, CancellationToken cancellationToken) => throw explosion();

    public void DeleteFile(string hostPath) => throw explosion();


    public void CreateDirectory(string hostPath) => throw explosion();

    public string LocalPath(string hostPath) => throw explosion();

    public Task<IDisposable> LockAsync(string hostPath, TimeSpan timeout, CancellationToken cancellationToken) => throw explosion();
}
