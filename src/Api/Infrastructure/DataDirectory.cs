using Microsoft.AspNetCore.DataProtection;

namespace GpuLxc.Api.Infrastructure;

/// <summary>
/// The service's own state (databases, backups, the generated API key, ASP.NET Core's data-protection keys). It is
/// not a host path: it is never resolved under <c>GpuLxc:Host:Root</c>. It holds secrets, so it is the owner's alone
/// however the service is started (systemd's <c>StateDirectoryMode=</c> covers only the unit): the directory is
/// 0700 and what lies in it 0600 (directories 0700), tightened at every start for state an older version or another
/// tool left wider. The process umask is left alone on purpose: host commands inherit it, and apt or dpkg run with
/// 077 would install files nobody else can read.
/// <para>
/// One process owns it at a time: an exclusive <c>flock(2)</c> on <c>&lt;DataDir&gt;/gpulxc.lock</c>, held from
/// construction until <see cref="Dispose"/> (the kernel drops it when the process dies, so a crash leaves nothing to
/// clean up). Two services on one data dir would run each queued job twice, store each event twice and race on the
/// configs' backups; the second one is refused at start instead.
/// </para>
/// </summary>
public sealed class DataDirectory : IDisposable
{
    public const string ConfigKey = "GpuLxc:DataDir";

    /// <summary>The file whose lock says which process owns the directory; never deleted (deleting it would let a
    /// second process lock a new file while the first still holds the old one).</summary>
    public const string LockFileName = "gpulxc.lock";

    private readonly FileStream _lock;

    /// <summary>rwx for the owner only.</summary>
    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>rw for the owner only.</summary>
    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// Creates the directory (and its parents) when missing, takes its lock, and makes it and everything in it the
    /// owner's alone.
    /// </summary>
    /// <exception cref="IOException">The directory cannot be created or its modes cannot be set, or another process
    /// (another GpuLxc) holds its lock; the message names the directory.</exception>
    public DataDirectory(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(Path, DirectoryMode);
        _lock = Lock(File(LockFileName));
        Tighten(new DirectoryInfo(Path));
    }

    /// <summary>The absolute path of the directory.</summary>
    public string Path { get; }

    /// <summary>The path of <paramref name="name"/> in the directory (nothing is created).</summary>
    public string File(string name) => System.IO.Path.Join(Path, name);

    /// <summary>
    /// The path of <paramref name="name"/>, created empty with mode 0600 when missing, for files another library
    /// creates (SQLite, which makes its <c>-wal</c> and <c>-shm</c> files with the database file's mode; an empty file
    /// is an empty database).
    /// </summary>
    public string PrivateFile(string name)
    {
        var path = File(name);
        try
        {
            using var created = new FileStream(path, new FileStreamOptions { Mode = System.IO.FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = FileMode });
        }
        catch (IOException) when (System.IO.File.Exists(path))
        {
            // Already there; Tighten made it 0600 at start.
        }

        return path;
    }

    /// <summary>Subdirectory <paramref name="name"/>, created with mode 0700 when missing.</summary>
    public string PrivateDirectory(string name)
    {
        var path = File(name);
        Directory.CreateDirectory(path, DirectoryMode);
        return path;
    }

    /// <summary>Releases the directory's lock; another process may take it from then on.</summary>
    public void Dispose() => _lock.Dispose();

    private static FileStream Lock(string path)
    {
        try
        {
            // FileShare.None is flock(LOCK_EX | LOCK_NB) on Linux: it fails at once rather than wait for the owner.
            return new FileStream(path, new FileStreamOptions { Mode = System.IO.FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None, UnixCreateMode = FileMode });
        }
        catch (IOException e) when (System.IO.File.Exists(path))
        {
            throw new IOException(
                $"another process holds {path}: another GpuLxc uses this data directory. Stop it, or give this one its own {ConfigKey}.", e);
        }
    }

    private static void Tighten(DirectoryInfo directory)
    {
        directory.UnixFileMode = DirectoryMode;
        foreach (var entry in directory.EnumerateFileSystemInfos())
        {
            if (entry.LinkTarget is not null)
            {
                continue;
            }

            if (entry is DirectoryInfo child)
            {
                Tighten(child);
            }
            else if ((entry.UnixFileMode & ~FileMode) != 0)
            {
                entry.UnixFileMode &= FileMode;
            }
        }
    }

    /// <summary>
    /// <c>GpuLxc:DataDir</c> when set; systemd's <c>STATE_DIRECTORY</c> when run as a unit with
    /// <c>StateDirectory=</c>; otherwise <c>./data</c>.
    /// </summary>
    public static string ResolvePath(IConfiguration configuration)
    {
        var configured = configuration[ConfigKey];
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return configured;
        }

        var stateDirectory = Environment.GetEnvironmentVariable("STATE_DIRECTORY");
        return string.IsNullOrWhiteSpace(stateDirectory) ? "data" : stateDirectory.Split(':')[0];
    }
}

public static class DataDirectoryExtensions
{
    public static IServiceCollection AddDataDirectory(this IServiceCollection services, IConfiguration configuration)
    {
        var dataDirectory = new DataDirectory(DataDirectory.ResolvePath(configuration));
        // Registered through a factory so that the container disposes it (an instance handed over as such is not):
        // a stopped service, or a test host, gives the lock back.
        services.AddSingleton(_ => dataDirectory);
        // ASP.NET Core's data protection keys (they sign the dashboard's anti-forgery tokens) stay with the rest of the
        // service's state, not in root's home, in a 0700 directory of a 0700 directory. They are not encrypted at rest:
        // Linux has no DPAPI, and a key to encrypt them with would lie beside them; the file modes are the protection.
        services.AddDataProtection().PersistKeysToFileSystem(new DirectoryInfo(dataDirectory.PrivateDirectory("data-protection")));
        // So the key manager's warning at each new key ("No XML encryptor configured … unencrypted form") states a choice
        // made above on purpose; an operator reading the start-up log should not take it for a fault. Its errors stay.
        services.AddLogging(logging => logging.AddFilter(typeof(Microsoft.AspNetCore.DataProtection.KeyManagement.XmlKeyManager).FullName, LogLevel.Error));
        return services;
    }
}
