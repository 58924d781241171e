using GpuLxc.Api.Containers;
using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Drivers;

/// <summary>
/// Reads the NVIDIA Container Toolkit and Docker inside a running container through the backend's exec: dpkg's
/// packages (else <c>nvidia-ctk --version</c>), <c>dockerd --version</c>, config.toml, daemon.json and the first CDI
/// spec found; every command bounded by <see cref="ReadTimeout"/>. Files are read with <c>cat</c> (a file that cannot
/// be read counts as absent: the toolkit and Docker then use their defaults).
/// </summary>
public static class ToolkitReader
{
    public static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(15);

    /// <summary>
    /// The toolkit as Docker will use it, with the audit's findings; <paramref name="run"/> runs a command inside the
    /// container (a job's logged run, or a plain one). A command that times out leaves the toolkit
    /// <see cref="ContainerToolkit.NotChecked"/> rather than failing the caller.
    /// </summary>
    public static async Task<ContainerToolkit> ReadAsync(IContainerBackend backend, string containerId, string? hostVersion, bool unprivileged,
        Func<HostCommand, Task<HostCommandResult>> run)
    {
        try
        {
            var reading = await ReadRawAsync(backend, containerId, hostVersion, unprivileged, run);
            var installed = reading.Version is not null;
            return new ContainerToolkit(installed, null, reading.Version, reading.DockerVersion,
                installed ? reading.Config.Mode : null, installed ? reading.Config.NoCgroups : null,
                reading.Daemon?.NvidiaRuntime, reading.Daemon?.DefaultRuntime, ToolkitAudit.DockerCdi(reading), unprivileged,
                ToolkitAudit.Spec(reading), ToolkitAudit.Findings(reading));
        }
        catch (HostCommandTimeoutException e)
        {
            return ContainerToolkit.Unchecked($"a command inside the container timed out: {e.Message}", unprivileged);
        }
    }

    /// <summary>What the container has, unjudged. The toolkit's files are read only when it is installed.</summary>
    public static async Task<ToolkitReading> ReadRawAsync(IContainerBackend backend, string containerId, string? hostVersion, bool unprivileged,
        Func<HostCommand, Task<HostCommandResult>> run)
    {
        var dpkg = await run(Exec(backend, containerId, ["dpkg-query", "-W", "-f", "${db:Status-Abbrev}|${Package}|${Version}\n", .. ToolkitFiles.Packages]));
        var packages = ToolkitFiles.ParseInstalledPackages(dpkg.StandardOutput);
        var version = packages.GetValueOrDefault(ToolkitFiles.Packages[0]) ?? packages.GetValueOrDefault(ToolkitFiles.Packages[1]) ?? packages.Values.FirstOrDefault();
        if (version is null)
        {
            // No dpkg, or a toolkit installed without it: the CLI reports its own version.
            var ctk = await run(Exec(backend, containerId, ["nvidia-ctk", "--version"]));
            version = ctk.Succeeded ? ToolkitFiles.ParseCtkVersion(ctk.StandardOutput) : null;
        }

        var dockerd = await run(Exec(backend, containerId, ["dockerd", "--version"]));
        var docker = dockerd.Succeeded ? ToolkitFiles.ParseDockerVersion(dockerd.StandardOutput) : null;
        var none = new ToolkitReading(packages, null, new ToolkitRuntimeConfig(false, "auto"), docker, null, null, null, hostVersion, unprivileged);
        if (version is null)
        {
            return none;
        }

        var config = await CatAsync(backend, containerId, ToolkitFiles.RuntimeConfigPath, run) is { } toml
            ? ToolkitFiles.ParseRuntimeConfig(toml)
            : none.Config;
        DockerDaemonConfig? daemon = null;
        if (docker is not null)
        {
            daemon = await CatAsync(backend, containerId, ToolkitFiles.DockerDaemonPath, run) is { } json
                ? ToolkitFiles.ParseDaemonJson(json)
                : new DockerDaemonConfig(false, null, null);
        }

        foreach (var path in ToolkitFiles.CdiSpecPaths)
        {
            if (await CatAsync(backend, containerId, path, run) is { } spec)
            {
                return none with { Version = version, Config = config, Daemon = daemon, SpecPath = path, Spec = ToolkitFiles.ParseCdiSpec(spec) };
            }
        }

        return none with { Version = version, Config = config, Daemon = daemon };
    }

    /// <summary>A command inside the container, bounded by <see cref="ReadTimeout"/>.</summary>
    public static HostCommand Exec(IContainerBackend backend, string containerId, string[] argv) =>
        backend.Exec(containerId, argv) with { Timeout = ReadTimeout };

    private static async Task<string?> CatAsync(IContainerBackend backend, string containerId, string path, Func<HostCommand, Task<HostCommandResult>> run)
    {
        var result = await run(Exec(backend, containerId, ["cat", path]));
        return result.Succeeded ? result.StandardOutput : null;
    }
}
