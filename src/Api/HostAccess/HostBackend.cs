using GpuLxc.Api.Infrastructure;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.HostAccess;

/// <summary>How containers are managed on this host.</summary>
public enum HostBackend
{
    /// <summary>Neither Proxmox nor the LXC tools were found.</summary>
    None,

    /// <summary>Plain LXC: configs in <c>/var/lib/lxc</c>, the <c>lxc-*</c> tools.</summary>
    Lxc,

    /// <summary>Proxmox VE: configs in <c>/etc/pve/lxc</c>, <c>pct</c>.</summary>
    Proxmox,
}

public enum HostBackendSource
{
    Detected,
    Configured,
}

public sealed record HostBackendSelection(HostBackend Backend, HostBackendSource Source);

/// <summary>
/// <c>GpuLxc:Host:Backend</c> when it names one; otherwise <c>proxmox</c> when <c>/etc/pve/lxc</c> exists,
/// <c>lxc</c> when the LXC tools are installed, else <c>none</c>.
/// </summary>
public sealed class HostBackendDetector(IOptions<HostAccessOptions> options, IHostFileSystem files, IHostCommandRunner commands)
{
    public static IReadOnlyList<string> AllowedSettings { get; } = ["auto", "proxmox", "lxc", "none"];

    public HostBackendSelection Detect()
    {
        var setting = options.Value.Backend.Trim().ToLowerInvariant();
        return setting switch
        {
            "proxmox" => new(HostBackend.Proxmox, HostBackendSource.Configured),
            "lxc" => new(HostBackend.Lxc, HostBackendSource.Configured),
            "none" => new(HostBackend.None, HostBackendSource.Configured),
            _ when files.DirectoryExists("/etc/pve/lxc") => new(HostBackend.Proxmox, HostBackendSource.Detected),
            _ when commands.FindExecutable("lxc-ls") is not null => new(HostBackend.Lxc, HostBackendSource.Detected),
            _ => new(HostBackend.None, HostBackendSource.Detected),
        };
    }
}

public static class HostAccessRegistration
{
    public static IServiceCollection AddHostAccess(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<HostAccessOptions>()
            .Bind(configuration.GetSection(HostAccessOptions.Section))
            .Validate(o => Path.IsPathFullyQualified(o.Root) && Directory.Exists(o.Root),
                "GpuLxc:Host:Root must be an absolute path to an existing directory.")
            .Validate(o => HostBackendDetector.AllowedSettings.Contains(o.Backend.Trim().ToLowerInvariant()),
                "GpuLxc:Host:Backend must be one of auto, proxmox, lxc, none.")
            .ValidateOnStart();
        services.AddSingleton<IHostFileSystem, HostFileSystem>();
        // Registered before the job server (AddJobHosting): hosted services start in order, so what a killed process
        // left running has ended before a job can start a command that conflicts with it.
        services.AddSingleton(provider => new HostCommandLedger(provider.GetRequiredService<DataDirectory>().PrivateDirectory("commands")));
        services.AddHostedService<OrphanedCommandReaper>();
        services.AddSingleton<IHostCommandRunner, HostCommandRunner>();
        services.AddSingleton<HostBackendDetector>();
        services.AddSingleton<INvml, NvmlLibrary>();
        services.AddSingleton<NvmlSweep>();
        return services;
    }
}
