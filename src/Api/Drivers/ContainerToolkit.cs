namespace GpuLxc.Api.Drivers;

public enum ToolkitFindingSeverity
{
    /// <summary>GPU containers start, but something is worth changing (an old, vulnerable toolkit; a runtime Docker cannot name).</summary>
    Warning,

    /// <summary>GPU containers started through this setup fail.</summary>
    Error,
}

/// <summary>One problem with the NVIDIA Container Toolkit set up inside a container.</summary>
/// <param name="Code">Stable name: <c>cgroupsInLxc</c>, <c>vulnerableToolkit</c>, <c>staleCdiSpec</c>, <c>noDockerRuntime</c>,
/// <c>cdiFeatureOff</c>, <c>unparsableConfig</c>, <c>unparsableCdiSpec</c>, <c>unparsableDaemonJson</c>, <c>packageVersionsDiffer</c>.</param>
/// <param name="Severity">Whether GPU containers fail (<c>error</c>) or merely deserve a change (<c>warning</c>).</param>
/// <param name="Message">What is wrong, in the toolkit's and Docker's terms, with the error a user sees.</param>
/// <param name="Fix">The commands to run inside the container.</param>
public sealed record ToolkitFinding(string Code, ToolkitFindingSeverity Severity, string Message, string Fix);

/// <summary>The CDI spec found inside the container.</summary>
/// <param name="Path">Where it is (<c>/etc/cdi/nvidia.yaml</c>, …).</param>
/// <param name="DriverVersion">The driver version it was generated for, from the versioned library names it mounts; null when it names none or does not parse.</param>
/// <param name="Stale">Whether that version differs from the host's loaded kernel module (containers using it fail); null when either is unknown.</param>
public sealed record CdiSpec(string Path, string? DriverVersion, bool? Stale);

/// <summary>
/// The NVIDIA Container Toolkit inside a container, as Docker and the toolkit's runtime will use it; read through the
/// container backend's exec from the guest's own packages and files.
/// </summary>
/// <param name="Installed">Whether the toolkit is installed (dpkg's <c>ii</c> packages, else <c>nvidia-ctk --version</c>); null when not checked.</param>
/// <param name="NotChecked">Why nothing was read (<c>container stopped</c>, or the backend's exec failure); null when read.</param>
/// <param name="Version">The toolkit's version (<c>1.17.8-1</c> as dpkg has it, or nvidia-ctk's <c>1.17.8</c>).</param>
/// <param name="DockerVersion">The Docker Engine version (<c>dockerd --version</c>); null when Docker is not installed.</param>
/// <param name="RuntimeMode"><c>nvidia-container-runtime.mode</c> from config.toml: <c>auto</c> (default), <c>legacy</c>, <c>cdi</c>; null when the toolkit is absent.</param>
/// <param name="NoCgroups"><c>nvidia-container-cli.no-cgroups</c> (absent = false, the toolkit's default); null when the toolkit is absent.</param>
/// <param name="DockerNvidiaRuntime">Whether daemon.json registers the <c>nvidia</c> runtime; null without Docker.</param>
/// <param name="DockerDefaultRuntime">daemon.json's <c>default-runtime</c>; null when absent.</param>
/// <param name="DockerCdi">Whether Docker resolves CDI devices: <c>features.cdi</c>, or its version's default (on from 28.2); null without Docker.</param>
/// <param name="Unprivileged">Whether the container runs in a user namespace; LXC-confined either way, so the toolkit's legacy path cannot attach its device-cgroup BPF program.</param>
/// <param name="CdiSpec">The CDI spec found; null when none.</param>
/// <param name="Findings">What makes GPU containers fail or deserves a change, each with its fix; empty when all is well or nothing was read.</param>
public sealed record ContainerToolkit(
    bool? Installed,
    string? NotChecked,
    string? Version,
    string? DockerVersion,
    string? RuntimeMode,
    bool? NoCgroups,
    bool? DockerNvidiaRuntime,
    string? DockerDefaultRuntime,
    bool? DockerCdi,
    bool Unprivileged,
    CdiSpec? CdiSpec,
    IReadOnlyList<ToolkitFinding> Findings)
{
    /// <summary>The toolkit was not read: the container is stopped, or commands cannot run in it.</summary>
    public static ContainerToolkit Unchecked(string why, bool unprivileged) =>
        new(null, why, null, null, null, null, null, null, null, unprivileged, null, []);
}
