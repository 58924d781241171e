using GpuLxc.Api.Attachments;
using GpuLxc.Api.Containers;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Hosts;
using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.Inventory;
using GpuLxc.Api.Jobs;

namespace GpuLxc.Api.Drivers;

/// <summary>A container's userspace driver against the host's kernel module.</summary>
/// <param name="ContainerId">The container.</param>
/// <param name="Status">Running or stopped: the driver can only be read in a running container.</param>
/// <param name="HostVersion">The host's loaded module version: the version the container must have exactly.</param>
/// <param name="InstalledVersion">The container's userspace driver version as it loads: what <c>nvidia-smi</c> inside reports when it works, else the version of the file <c>libnvidia-ml.so.1</c> resolves to (other <c>libnvidia-ml.so.VERSION</c> files are never loaded); null when none loads, when dpkg has the package that owns it only half installed (not <c>ii</c>), the container is not running, or no command runs inside it.</param>
/// <param name="Match">Whether the two are equal (NVML works only then).</param>
/// <param name="Method">How GpuLxc last installed it: <c>apt</c> or <c>runInstaller</c>; <c>host</c> when the attachment binds the host's
/// own files in (<c>userspace: host</c>: the installed version is the host's by construction); null when GpuLxc never did.</param>
/// <param name="InstalledBy">The job that last installed it.</param>
/// <param name="Os">The container's distribution.</param>
/// <param name="Notes">What could not be read, and why: a stale or missing <c>libnvidia-ml.so.1</c>, nvidia-smi's own error text, or the backend's error when commands cannot run inside the container at all.</param>
/// <param name="Toolkit">The NVIDIA Container Toolkit and Docker inside, audited for what makes Docker's GPU containers fail in an LXC container.</param>
public sealed record ContainerDriver(
    string ContainerId,
    ContainerStatus Status,
    string? HostVersion,
    string? InstalledVersion,
    bool Match,
    string? Method,
    string? InstalledBy,
    OsInfo? Os,
    IReadOnlyList<string> Notes,
    ContainerToolkit Toolkit);

/// <summary>A container that a guest driver job can work on, with what the job needs to know of it.</summary>
public sealed record GuestTarget(IContainerBackend Backend, string ContainerId, string HostVersion, OsFamily Family, OsInfo Os);

/// <summary>Reads containers' userspace drivers and checks the preconditions of the jobs that install them.</summary>
public sealed class GuestDrivers(
    ContainerDirectory containers,
    AttachmentStore attachmentStore,
    IHostFileSystem files,
    IHostCommandRunner commands,
    JobStore jobs,
    LoadedDriver loadedDriver)
{
    public static readonly TimeSpan ExecTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The <see cref="ContainerDriver.Method"/> (and verify job's method) of a container attached with <c>userspace: host</c>.</summary>
    public const string HostMethod = "host";

    /// <summary>The loaded kernel module's version, which every container must match exactly (<see cref="LoadedDriver"/>); null when none is loaded.</summary>
    public Task<string?> HostVersionAsync(CancellationToken cancellationToken) => loadedDriver.ReadVersionAsync(cancellationToken);

    /// <summary>
    /// The preconditions of a guest job (design: 409 with the fix): the container exists and runs, GpuLxc attached a
    /// GPU to it, the host driver is loaded, and its distribution uses glibc; and, unless <paramref name="hostUserspaceAllowed"/>
    /// (the docker profile, which configures Docker over the host's bound files), that it is not attached with <c>userspace: host</c>.
    /// </summary>
    public async Task<GuestTarget> CheckAsync(string containerId, CancellationToken cancellationToken, bool hostUserspaceAllowed = false)
    {
        var (backend, hostVersion) = await PreflightAsync(containerId, cancellationToken);
        if (!hostUserspaceAllowed)
        {
            await RefuseHostUserspaceAsync(containerId, cancellationToken);
        }

        return await DetectOsAsync(backend, containerId, hostVersion, cancellationToken);
    }

    /// <summary>Whether GpuLxc attached the container with <c>userspace: host</c> (the host's driver files bound in).</summary>
    public async Task<bool> UsesHostUserspaceAsync(string containerId, CancellationToken cancellationToken) =>
        (await attachmentStore.FindAsync(containerId, cancellationToken))?.Request.Userspace == UserspaceSource.Host;

    /// <summary>
    /// An install into a container that binds the host's files would write over read-only mounts, and is never
    /// needed: refused.
    /// </summary>
    /// <exception cref="ProblemException"><see cref="DriverProblems.HostUserspace"/> (409).</exception>
    public async Task RefuseHostUserspaceAsync(string containerId, CancellationToken cancellationToken)
    {
        if (await UsesHostUserspaceAsync(containerId, cancellationToken))
        {
            throw DriverProblems.HostUserspace.With(
                $"Container {containerId} is attached with userspace host: the host's driver files of the loaded version are bound in, so nothing is installed in it.",
                $"Nothing to do; after a host driver upgrade PUT /api/v1/containers/{containerId}/gpu?restart=true again. To install a driver in it instead, attach it with userspace installed first.");
        }
    }

    /// <summary>The container exists and runs, has a GPU attached by GpuLxc, and the host driver is loaded.</summary>
    /// <exception cref="ProblemException">The id is not the backend's (<see cref="ContainerProblems.InvalidId"/>, 400), there is no
    /// backend (409) or no such container (404); one of <see cref="DriverProblems.GuestPreconditions"/> (409).</exception>
    public async Task<(IContainerBackend Backend, string HostVersion)> PreflightAsync(string containerId, CancellationToken cancellationToken)
    {
        var backend = containers.BackendFor(containerId);
        if (!files.FileExists(backend.ConfigPath(containerId)))
        {
            throw ContainerProblems.NoSuchContainer(containerId, backend.ConfigPath(containerId));
        }

        if (await attachmentStore.FindAsync(containerId, cancellationToken) is null)
        {
            throw DriverProblems.NoGpuAttached.With($"GpuLxc has not attached a GPU to container {containerId}.",
                $"PUT /api/v1/containers/{containerId}/gpu?restart=true attaches one.");
        }

        if (await backend.StatusAsync(containerId, cancellationToken) != ContainerStatus.Running)
        {
            throw DriverProblems.NotRunning.With($"Container {containerId} must run: the driver is installed and checked from inside it.",
                backend.Kind == HostBackend.Proxmox ? $"pct start {containerId}" : $"lxc-start -n {containerId}");
        }

        var hostVersion = await HostVersionAsync(cancellationToken) ?? throw DriverProblems.HostDriverNotLoaded.With(
            "No NVIDIA kernel module is loaded on the host, so there is no version for the container to match.",
            "POST /api/v1/host/driver/install, then reboot the host.");
        return (backend, hostVersion);
    }

    /// <summary>The container's distribution from its <c>/etc/os-release</c>; Alpine (musl) is refused.</summary>
    /// <exception cref="ProblemException"><see cref="DriverProblems.UnknownDistribution"/> or <see cref="DriverProblems.MuslDistribution"/> (409).</exception>
    public async Task<GuestTarget> DetectOsAsync(IContainerBackend backend, string containerId, string hostVersion, CancellationToken cancellationToken)
    {
        var osRelease = await ReadOsReleaseAsync(backend, containerId, cancellationToken) ?? throw DriverProblems.UnknownDistribution.With(
            $"/etc/os-release could not be read inside container {containerId}.", "Check that the container has /etc/os-release and that exec into it works.");
        var family = OsFamilies.Of(osRelease);
        if (family == OsFamily.Alpine)
        {
            throw DriverProblems.MuslDistribution.With(
                $"Container {containerId} runs {osRelease.GetValueOrDefault("PRETTY_NAME", "Alpine")}, built on musl libc; NVIDIA's libraries need glibc.",
                "Use a Debian or Ubuntu container for GPU work.");
        }

        return new GuestTarget(backend, containerId, hostVersion, family, OsFamilies.Info(osRelease));
    }

    /// <summary>The container's <c>/etc/os-release</c>, read through the backend's exec; null when it cannot be read.</summary>
    public async Task<IReadOnlyDictionary<string, string>?> ReadOsReleaseAsync(IContainerBackend backend, string containerId, CancellationToken cancellationToken)
    {
        var result = await commands.RunAsync(ExecProbe(backend, containerId), cancellationToken);
        return result.Succeeded ? OsRelease.Parse(result.StandardOutput) : null;
    }

    /// <summary>
    /// The command that shows whether commands can run inside the container at all: reading <c>/etc/os-release</c>,
    /// which every distribution has. When it fails, other commands' failures say nothing about the container's driver.
    /// </summary>
    public static HostCommand ExecProbe(IContainerBackend backend, string containerId) =>
        backend.Exec(containerId, ["cat", "/etc/os-release"]) with { Timeout = ExecTimeout };

    /// <summary>"Commands cannot run inside container 101: '…' exited with 2: (its stderr)": the backend's own words.</summary>
    public static string ExecFailure(string containerId, HostCommand command, HostCommandResult result) =>
        $"Commands cannot run inside container {containerId}: '{command}' exited with {result.ExitCode}" +
        ((result.StandardError.Trim() is { Length: > 0 } stderr ? stderr : result.StandardOutput.Trim()) is { Length: > 0 } said ? $": {said}" : ".");

    /// <summary>The fix for <see cref="ExecFailure"/>: what the host needs for <c>pct exec</c> / <c>lxc-attach</c> to work.</summary>
    public static string ExecFix(IContainerBackend backend, string containerId) => backend.Kind == HostBackend.Proxmox
        ? $"Check on the host that `pct exec {containerId} -- cat /etc/os-release` works: the container must run and pct must be able to enter it."
        : $"Check on the host that `lxc-attach -n {containerId} -- cat /etc/os-release` works: the container must run and lxc-attach must be able to enter it.";

    /// <summary>The container's driver, read from inside when it runs; what could not be read is in the notes.</summary>
    /// <exception cref="ProblemException">The id is not the backend's (400), there is no backend (409) or no such container (404).</exception>
    public async Task<ContainerDriver> ReadAsync(string containerId, CancellationToken cancellationToken)
    {
        var backend = containers.BackendFor(containerId);
        if (!files.FileExists(backend.ConfigPath(containerId)))
        {
            throw ContainerProblems.NoSuchContainer(containerId, backend.ConfigPath(containerId));
        }

        var notes = new List<string>();
        var hostVersion = await HostVersionAsync(cancellationToken);
        if (hostVersion is null)
        {
            notes.Add("No NVIDIA kernel module is loaded on the host.");
        }

        var last = await jobs.LastSucceededAsync(JobKind.GuestDriverInstall, containerId, cancellationToken);
        var status = await backend.StatusAsync(containerId, cancellationToken);
        string? installed = null;
        OsInfo? os = null;
        var hostUserspace = await UsesHostUserspaceAsync(containerId, cancellationToken);
        var unprivileged = await files.TryReadBytesAsync(backend.ConfigPath(containerId), cancellationToken) is { } bytes && backend.Describe(containerId, backend.ParseConfig(bytes)).Unprivileged;
        var toolkit = ContainerToolkit.Unchecked(status == ContainerStatus.Stopped ? "container stopped" : "container status unknown", unprivileged);
        if (status == ContainerStatus.Running)
        {
            var probe = ExecProbe(backend, containerId);
            var probed = await commands.RunAsync(probe, cancellationToken);
            os = probed.Succeeded ? OsFamilies.Info(OsRelease.Parse(probed.StandardOutput)) : null;
            var libraries = await NvmlLibraries.ReadAsync(backend, containerId, command => commands.RunAsync(command, cancellationToken));
            var (reported, smiError) = await NvidiaSmiVersionAsync(backend, containerId, cancellationToken);
            // nvidia-smi works only when NVML loaded a library of the module's version: then its answer is the truth,
            // unless dpkg has the library's package only half installed (a failed configure leaves working files).
            installed = libraries.HalfInstalled ? null : reported ?? libraries.Loaded;
            // With userspace host, libnvidia-ml.so.1 is the host's file bound in, not a link that names its version; the
            // versioned name is bound beside it, so the one versioned file the running container has is what it loads.
            if (installed is null && hostUserspace && libraries.Versions is [var bound])
            {
                installed = bound;
            }

            toolkit = probed.Succeeded
                ? await ToolkitReader.ReadAsync(backend, containerId, hostVersion, unprivileged, command => commands.RunAsync(command, cancellationToken))
                : ContainerToolkit.Unchecked("commands cannot run inside the container (see notes)", unprivileged);
            if (!probed.Succeeded && libraries.Versions.Count == 0 && libraries.Link is null)
            {
                notes.Add(ExecFailure(containerId, probe, probed));
            }
            else
            {
                notes.AddRange(libraries.Notes(hostVersion));
                if (libraries.Versions.Count == 0 && libraries.Link is null)
                {
                    notes.Add("No libnvidia-ml.so.* in the container: no userspace driver is installed.");
                }

                if (smiError is not null && (libraries.Versions.Count > 0 || libraries.Link is not null))
                {
                    notes.Add($"nvidia-smi in the container: {smiError}");
                }
            }
        }
        else
        {
            notes.Add("The container is not running: its driver can be read once it runs.");
        }

        var method = last?.Result?.Method;
        if (hostUserspace)
        {
            method = HostMethod;
            notes.Add("The attachment binds the host's own driver files in (userspace host): nothing is installed in the container; " +
                      "after a host driver upgrade, PUT the attachment again and restart the container.");
        }

        return new ContainerDriver(containerId, status, hostVersion, installed, installed is not null && installed == hostVersion,
            method, method == HostMethod ? null : last?.Id, os, notes, toolkit);
    }

    /// <summary>The single version <c>nvidia-smi</c> inside reports, or what it said when it failed (NVML's own words).</summary>
    private async Task<(string? Version, string? Error)> NvidiaSmiVersionAsync(IContainerBackend backend, string containerId, CancellationToken cancellationToken)
    {
        var result = await commands.RunAsync(GuestInstaller.SmiQuery(backend, containerId), cancellationToken);
        var reported = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
        return result.Succeeded && reported is [var version] && DriverInputs.IsVersion(version)
            ? (version, null)
            : (null, $"exit code {result.ExitCode}: {string.Join(" ", (result.StandardOutput + "\n" + result.StandardError).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))}");
    }
}
