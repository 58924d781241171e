using Microsoft.AspNetCore.DataProtection;

namespace GpuLxc.Api.Infrastructure;

/// <summary>
/// The service's own state (databases, backups, the generated API key). It is not a host path: it is never
/// resolved under <c>GpuLxc:Host:Root</c>.
/// </summary>
public sealed class DataDirectory
{
    public const string ConfigKey = "GpuLxc:DataDir";

    public DataDirectory(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Join(Path, name);

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
        services.AddSingleton(dataDirectory);
        // ASP.NET Core's data protection keys stay with the rest of the service's state, not in root's home.
        services.AddDataProtection().PersistKeysToFileSystem(new DirectoryInfo(dataDirectory.File("data-protection")));
        return services;
    }
}
