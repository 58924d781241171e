namespace GpuLxc.Api.Drivers;

/// <summary>What was read inside a container about the toolkit and Docker, before it is judged.</summary>
/// <param name="Packages">Installed toolkit packages and their dpkg versions; empty without dpkg or when none is installed.</param>
/// <param name="Version">The toolkit version (the <c>nvidia-container-toolkit</c> package's, else nvidia-ctk's); null when absent.</param>
/// <param name="Config">config.toml as parsed; the defaults when the file is absent.</param>
/// <param name="DockerVersion"><c>dockerd --version</c>'s version; null without Docker.</param>
/// <param name="Daemon">daemon.json as parsed; empty settings when absent; null without Docker.</param>
/// <param name="SpecPath">The CDI spec's path; null when there is none.</param>
/// <param name="Spec">The CDI spec as parsed; null when there is none.</param>
/// <param name="HostVersion">The host's loaded kernel module version; null when none is loaded.</param>
/// <param name="Unprivileged">Whether the container runs in a user namespace.</param>
public sealed record ToolkitReading(
    IReadOnlyDictionary<string, string> Packages,
    string? Version,
    ToolkitRuntimeConfig Config,
    string? DockerVersion,
    DockerDaemonConfig? Daemon,
    string? SpecPath,
    CdiSpecDrivers? Spec,
    string? HostVersion,
    bool Unprivileged);

/// <summary>Judges a <see cref="ToolkitReading"/>: the findings of the driver view and of verify's toolkit step.</summary>
public static class ToolkitAudit
{
    /// <summary>
    /// The first toolkit release that fixes CVE-2025-23266 ("NVIDIAScape", a container escape through the
    /// <c>enable-cuda-compat</c> hook and <c>LD_PRELOAD</c>) and CVE-2025-23267: NVIDIA's security bulletin of July 2025,
    /// https://nvidia.custhelp.com/app/answers/detail/a_id/5659 (also EGI advisory EGI-SVG-2025-11).
    /// </summary>
    public static readonly Version SecurityFloor = new(1, 17, 8);

    /// <summary>
    /// Docker Engine resolves CDI devices (<c>--device nvidia.com/gpu=all</c>) from 25.0 when <c>features.cdi</c> is set,
    /// and by default from 28.2.0 (Docker Engine 28 release notes, 28.2.0 of 2025-05-28: "CDI is now enabled by
    /// default"; https://docs.docker.com/engine/release-notes/28/#2820).
    /// </summary>
    public static readonly Version DockerCdiOptIn = new(25, 0, 0), DockerCdiByDefault = new(28, 2, 0);

    private const string RestartDocker = "systemctl restart docker";

    /// <summary>Whether Docker resolves CDI devices: its version and <c>features.cdi</c>; null without Docker.</summary>
    public static bool? DockerCdi(ToolkitReading reading) =>
        reading.DockerVersion is null ? null
        : ToolkitFiles.Numeric(reading.DockerVersion) is not { } docker || docker < DockerCdiOptIn ? false
        : reading.Daemon?.CdiFeature ?? docker >= DockerCdiByDefault;

    /// <summary>The spec's driver version: the newest named (a spec names one unless two drivers' files were found).</summary>
    public static CdiSpec? Spec(ToolkitReading reading)
    {
        if (reading.SpecPath is null)
        {
            return null;
        }

        var versions = reading.Spec?.DriverVersions ?? [];
        bool? stale = reading.HostVersion is null || versions.Count == 0 ? null : versions.Any(v => v != reading.HostVersion);
        return new CdiSpec(reading.SpecPath, versions.Count == 0 ? null : versions[^1], stale);
    }

    /// <summary>Every finding, errors first. A toolkit that is not installed has none.</summary>
    public static IReadOnlyList<ToolkitFinding> Findings(ToolkitReading reading)
    {
        if (reading.Version is null)
        {
            return [];
        }

        var findings = new List<ToolkitFinding>();
        Packages(reading, findings);
        RuntimeConfig(reading, findings);
        CdiSpec(reading, findings);
        Docker(reading, findings);
        return findings.OrderByDescending(f => f.Severity).ToList();
    }

    private static void Packages(ToolkitReading reading, List<ToolkitFinding> findings)
    {
        if (reading.Packages.Values.Select(ToolkitFiles.Numeric).Distinct().Count() > 1)
        {
            findings.Add(new ToolkitFinding("packageVersionsDiffer", ToolkitFindingSeverity.Warning,
                $"The toolkit's packages are at different versions ({string.Join(", ", reading.Packages.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} {p.Value}"))}): " +
                "nvidia-container-toolkit, its -base package and libnvidia-container1 are released together and must agree.",
                $"apt-get install {string.Join(" ", ToolkitFiles.Packages.Select(p => $"{p}={reading.Version}"))}"));
        }

        if (ToolkitFiles.Numeric(reading.Version) is { } version && version < SecurityFloor)
        {
            findings.Add(new ToolkitFinding("vulnerableToolkit", ToolkitFindingSeverity.Warning,
                $"NVIDIA Container Toolkit {reading.Version} is older than {SecurityFloor}, which fixes CVE-2025-23266 (a container escape through the enable-cuda-compat hook) and CVE-2025-23267.",
                $"apt-get update && apt-get install --only-upgrade {string.Join(" ", ToolkitFiles.Packages)}"));
        }
    }

    private static void RuntimeConfig(ToolkitReading reading, List<ToolkitFinding> findings)
    {
        var config = reading.Config;
        if (config.Error is not null)
        {
            findings.Add(new ToolkitFinding("unparsableConfig", ToolkitFindingSeverity.Error,
                $"{ToolkitFiles.RuntimeConfigPath} does not parse ({config.Error}): the NVIDIA runtime and its hook fail to load it, so every GPU container fails to start.",
                $"Correct the file, or replace it with the defaults: nvidia-ctk config default --output={ToolkitFiles.RuntimeConfigPath}, " +
                $"then nvidia-ctk config --set nvidia-container-cli.no-cgroups=true --in-place and {RestartDocker}"));
            return;
        }

        // CDI mode never runs nvidia-container-cli's cgroup setup; auto and legacy do for --gpus and the nvidia runtime.
        if (!config.NoCgroups && config.Mode != "cdi")
        {
            findings.Add(new ToolkitFinding("cgroupsInLxc", ToolkitFindingSeverity.Error,
                $"{ToolkitFiles.RuntimeConfigPath} leaves nvidia-container-cli.no-cgroups false (the toolkit's default) with the runtime in {config.Mode} mode: " +
                $"inside an LXC container{(reading.Unprivileged ? " (unprivileged)" : "")} the toolkit's legacy path cannot attach its device-cgroup program, " +
                "so Docker's GPU containers (--gpus, --runtime=nvidia) fail with `bpf_prog_query(BPF_CGROUP_DEVICE) failed: operation not permitted`. " +
                "LXC already confines which devices the container can open.",
                $"nvidia-ctk config --set nvidia-container-cli.no-cgroups=true --in-place, then {RestartDocker}"));
        }
    }

    private static void CdiSpec(ToolkitReading reading, List<ToolkitFinding> findings)
    {
        if (reading.SpecPath is not { } path || reading.Spec is null)
        {
            return;
        }

        var generate = $"nvidia-ctk cdi generate --output={path}";
        if (reading.Spec.Error is not null)
        {
            findings.Add(new ToolkitFinding("unparsableCdiSpec", ToolkitFindingSeverity.Error,
                $"{path} does not parse ({reading.Spec.Error}): engines refuse it, so --device nvidia.com/gpu=all fails.", generate));
        }
        else if (Spec(reading) is { Stale: true, DriverVersion: var version })
        {
            findings.Add(new ToolkitFinding("staleCdiSpec", ToolkitFindingSeverity.Error,
                $"{path} was generated for driver {string.Join(", ", reading.Spec.DriverVersions)}, but the host's loaded kernel module is {reading.HostVersion}: " +
                $"containers that use it (--device nvidia.com/gpu=all) fail, since the driver {version} files it mounts are gone or do not match the module.",
                generate));
        }
    }

    private static void Docker(ToolkitReading reading, List<ToolkitFinding> findings)
    {
        if (reading.DockerVersion is not { } dockerVersion || reading.Daemon is not { } daemon)
        {
            return;
        }

        if (daemon.Error is not null)
        {
            findings.Add(new ToolkitFinding("unparsableDaemonJson", ToolkitFindingSeverity.Error,
                $"{ToolkitFiles.DockerDaemonPath} does not parse ({daemon.Error}): Docker refuses to start with it.",
                $"Correct the JSON in {ToolkitFiles.DockerDaemonPath}, then nvidia-ctk runtime configure --runtime=docker and {RestartDocker}"));
            return;
        }

        if (daemon.NvidiaRuntime)
        {
            return;
        }

        var docker = ToolkitFiles.Numeric(dockerVersion);
        if (docker is not null && docker >= DockerCdiOptIn && docker < DockerCdiByDefault && daemon.CdiFeature != true && reading.SpecPath is not null)
        {
            findings.Add(new ToolkitFinding("cdiFeatureOff", ToolkitFindingSeverity.Warning,
                $"Only CDI is set up ({reading.SpecPath}, no nvidia runtime in {ToolkitFiles.DockerDaemonPath}), but Docker {dockerVersion} resolves CDI devices only with " +
                $"features.cdi, which its daemon.json does not set (it is on by default from {DockerCdiByDefault.ToString(2)}.0): --device nvidia.com/gpu=all fails.",
                $"nvidia-ctk runtime configure --runtime=docker --cdi.enabled, then {RestartDocker}"));
        }
        // A spec that is stale or broken has its own error above; here only whether Docker can take the CDI path at all.
        else if (!(DockerCdi(reading) == true && reading.SpecPath is not null))
        {
            findings.Add(new ToolkitFinding("noDockerRuntime", ToolkitFindingSeverity.Warning,
                $"Docker {dockerVersion} has no nvidia runtime in {ToolkitFiles.DockerDaemonPath} and cannot use CDI here " +
                $"({(reading.SpecPath is null ? "no CDI spec" : "CDI is off in Docker")}): " +
                "--runtime=nvidia fails with `unknown or invalid runtime name: nvidia`, and compose files that name the runtime do not start.",
                $"nvidia-ctk runtime configure --runtime=docker, then {RestartDocker}"));
        }
    }
}
