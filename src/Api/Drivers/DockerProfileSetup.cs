using GpuLxc.Api.Containers;
using GpuLxc.Api.Containers.Config;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.Jobs;

namespace GpuLxc.Api.Drivers;

/// <summary>What the features step did: the <c>features:</c> value now (null: plain LXC, not edited), and whether it changed.</summary>
/// <param name="Features">The <c>features:</c> value now; null on plain LXC.</param>
/// <param name="Changed">Whether this run changed it.</param>
/// <param name="Message">What the step says.</param>
/// <param name="StartedBefore">Whether the container runs with a config older than the one on disk (Proxmox writes
/// <c>/var/lib/lxc/&lt;vmid&gt;/config</c> at each start): the features an earlier run set are not in effect yet.</param>
public sealed record FeaturesOutcome(string? Features, bool Changed, string Message, bool StartedBefore = false)
{
    /// <summary>Whether the container must start again for the features to apply.</summary>
    public bool RestartOwed => Changed || StartedBefore;
}

/// <summary>
/// The steps of the docker guest profile, run inside the container through the backend's exec (argv arrays): the
/// container features Docker needs (Proxmox: set through <see cref="ContainerConfigEditor"/>), Docker's version, the
/// NVIDIA container toolkit from apt at a version that fits (<see cref="DockerProfile.ToolkitFloor"/>), and its
/// configuration for Docker. Every step reads first and changes only what is missing, so a second run changes nothing.
/// </summary>
public sealed class DockerProfileSetup(IHostCommandRunner commands, ContainerDirectory containers, ContainerConfigEditor editor, IHostFileSystem files)
{
    private static readonly TimeSpan AptTimeout = TimeSpan.FromMinutes(20);
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Proxmox: <c>nesting=1</c>, and <c>keyctl=1</c> for an unprivileged container, set in the main section's
    /// <c>features:</c> (every other item kept). Plain LXC: nothing is edited; the message names the line to add.
    /// </summary>
    /// <exception cref="ProblemException">The config is locked (409), as for an attachment edit.</exception>
    public async Task<FeaturesOutcome> FeaturesAsync(JobContext context, GuestTarget target)
    {
        var backend = target.Backend;
        var (_, config) = await containers.ReadConfigAsync(backend, target.ContainerId, context.Cancellation);
        var unprivileged = backend.Describe(target.ContainerId, config).Unprivileged;
        if (backend.Kind != HostBackend.Proxmox)
        {
            var included = config.Find("lxc.include", DockerProfile.LxcNestingInclude).Any();
            var keyctl = unprivileged
                ? " Docker also calls keyctl, which LXC's default seccomp policy may answer with ENOSYS in an unprivileged container: if `docker run` fails with a keyring error, give the container a seccomp profile (lxc.seccomp.profile) that allows keyctl."
                : "";
            return new FeaturesOutcome(null, false, included
                ? $"{backend.ConfigPath(target.ContainerId)} includes {DockerProfile.LxcNestingInclude} already.{keyctl}"
                : $"GpuLxc does not edit LXC configs for Docker: add `lxc.include = {DockerProfile.LxcNestingInclude}` to {backend.ConfigPath(target.ContainerId)} and restart the container.{keyctl}");
        }

        List<(string, string)> required = unprivileged ? [("keyctl", "1"), ("nesting", "1")] : [("nesting", "1")];
        IReadOnlyList<string> changes = [];
        string value = "";
        var edit = await editor.EditAsync(backend, target.ContainerId, text =>
        {
            (value, changes) = ContainerFeatures.Require(text.Get(ContainerFeatures.Key), required);
            return changes.Count > 0 && text.Set(ContainerFeatures.Key, value);
        }, context.Cancellation);
        var needed = string.Join(", ", required.Select(r => $"{r.Item1}=1"));
        var why = unprivileged ? "unprivileged: Docker needs nesting and keyctl" : "privileged: Docker needs nesting";
        if (!edit.Changed)
        {
            var startedBefore = await StartedBeforeConfigAsync(target);
            return new FeaturesOutcome(value, false, $"features: {value} has {needed} already ({why}); nothing changed" +
                (startedBefore ? "; the container was started before its config last changed, so they apply from its next start" : ""), startedBefore);
        }

        await context.LogAsync($"set features: {value} in {backend.ConfigPath(target.ContainerId)} ({string.Join("; ", changes)})");
        return new FeaturesOutcome(value, true, $"features: {value} ({string.Join("; ", changes)}; {why})");
    }

    /// <summary>
    /// Whether a running Proxmox container started before its config was last written: Proxmox generates
    /// <c>/var/lib/lxc/&lt;vmid&gt;/config</c> from <c>/etc/pve/lxc/&lt;vmid&gt;.conf</c> at every start, so a newer
    /// <c>.conf</c> holds changes (features set by an earlier run that failed or was not asked to restart) the running
    /// container does not have. False when either file is missing.
    /// </summary>
    private async Task<bool> StartedBeforeConfigAsync(GuestTarget target)
    {
        if (await target.Backend.StatusAsync(target.ContainerId, CancellationToken.None) != ContainerStatus.Running)
        {
            return false;
        }

        var config = new FileInfo(files.LocalPath(target.Backend.ConfigPath(target.ContainerId)));
        var started = new FileInfo(files.LocalPath($"/var/lib/lxc/{target.ContainerId}/config"));
        return config.Exists && started.Exists && config.LastWriteTimeUtc > started.LastWriteTimeUtc;
    }

    /// <summary>The Docker Engine version inside; GpuLxc does not install Docker.</summary>
    /// <exception cref="JobFailedException"><c>dockerMissing</c> when <c>docker version</c> reports no server (not installed, or its daemon down).</exception>
    public async Task<DockerVersion> DockerAsync(JobContext context, GuestTarget target)
    {
        var query = Exec(target, ["docker", "version", "--format", "{{.Server.Version}}"], GuestDrivers.ExecTimeout);
        var result = await context.RunAsync(commands, query);
        if (result.Succeeded && DockerProfile.ParseDockerVersion(result.StandardOutput) is { } version)
        {
            return version;
        }

        var said = (result.StandardError + " " + result.StandardOutput).Trim();
        var daemonDown = said.Contains("Cannot connect to the Docker daemon", StringComparison.Ordinal) || said.Contains("docker.sock", StringComparison.Ordinal);
        throw new JobFailedException(new JobError("dockerMissing",
            daemonDown
                ? $"Docker is installed in container {target.ContainerId}, but its daemon does not answer: {said}"
                : $"Docker is not installed in container {target.ContainerId} ('{query}' exited with {result.ExitCode}{(said.Length > 0 ? $": {said}" : "")}). GpuLxc does not install Docker.",
            Command: query.ToString(), ExitCode: result.ExitCode,
            Fix: daemonDown
                ? $"Start it inside the container (`systemctl start docker`, and `journalctl -u docker` for why it stopped), then POST /api/v1/containers/{target.ContainerId}/driver/install with profile docker again."
                : $"Install Docker Engine inside container {target.ContainerId} (Docker's own apt repository, or the distribution's docker.io), then POST /api/v1/containers/{target.ContainerId}/driver/install with profile docker again."));
    }

    /// <summary>
    /// The toolkit's four packages at one exact version, at least <see cref="DockerProfile.ToolkitFloor"/>: left as they
    /// are when installed so, else apt's newest complete set. Returns the version and whether it installed it.
    /// </summary>
    /// <exception cref="JobFailedException"><c>preconditionFailed</c> (no apt); <c>noCandidate</c> with NVIDIA's repository commands as the fix;
    /// <c>toolkitTooOld</c> naming the floor; <c>commandFailed</c> when apt fails; <c>versionMismatch</c> when dpkg did not end with every package installed.</exception>
    public async Task<(string Version, bool Installed)> ToolkitAsync(JobContext context, GuestTarget target)
    {
        if (target.Family is not (OsFamily.Debian or OsFamily.Ubuntu))
        {
            throw new JobFailedException(new JobError("preconditionFailed",
                $"{target.Os.PrettyName ?? target.Os.Id ?? "The container's distribution"} is not Debian or Ubuntu: the docker profile installs NVIDIA's container toolkit with apt only.",
                Fix: "Use a Debian or Ubuntu container for Docker, or install nvidia-container-toolkit there yourself."));
        }

        if (await InstalledToolkitAsync(context, target) is { } installed && DockerProfile.FitsFloor(installed))
        {
            return (installed, false);
        }

        await context.RunCheckedAsync(commands, Exec(target, ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "update"], AptTimeout),
            $"Check the container's apt sources: `apt-get update` inside container {target.ContainerId} must work.");
        var madison = await context.RunAsync(commands, Exec(target, ["apt-cache", "madison", .. DockerProfile.ToolkitPackages], GuestDrivers.ExecTimeout));
        var (version, found) = DockerProfile.ChooseToolkit(AptCandidates.ParseMadison(madison.StandardOutput));
        if (version is null || !AptPinning.IsDebianVersion(version))
        {
            throw new JobFailedException(new JobError("noCandidate",
                $"apt in container {target.ContainerId} offers no complete set of NVIDIA's container toolkit packages (found {found}): NVIDIA's repository is not configured there. GpuLxc adds no repository itself.",
                Fix: $"Inside container {target.ContainerId}, add NVIDIA's repository as its install guide does: `{DockerProfile.RepositoryCommands}`; then POST /api/v1/containers/{target.ContainerId}/driver/install with profile docker again."));
        }

        if (!DockerProfile.FitsFloor(version))
        {
            throw new JobFailedException(new JobError("toolkitTooOld",
                $"apt's newest NVIDIA container toolkit in container {target.ContainerId} is {version}, older than {DockerProfile.ToolkitFloor}, the first with the fix for CVE-2025-23266 " +
                $"(a container escape) per {DockerProfile.ToolkitFloorSource}; it is not installed.",
                Fix: $"Use NVIDIA's own repository (its install guide: `{DockerProfile.RepositoryCommands}`) rather than a mirror or a distribution package that lags, then POST the install again."));
        }

        var pins = DockerProfile.ToolkitPackages.Select(p => $"{p}={version}").ToList();
        await context.RunCheckedAsync(commands, Exec(target, ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "--no-install-recommends", .. pins], AptTimeout),
            $"Read apt's lines above; `apt-get install {string.Join(' ', pins)}` inside container {target.ContainerId} shows the same error.");
        if (await InstalledToolkitAsync(context, target) != version)
        {
            throw new JobFailedException(new JobError("versionMismatch",
                $"apt finished, but dpkg in container {target.ContainerId} does not have all of {string.Join(", ", DockerProfile.ToolkitPackages)} installed at {version}.",
                Fix: $"Run `dpkg --configure -a` inside container {target.ContainerId} and read its error, then POST the install again."));
        }

        return (version, true);
    }

    /// <summary>
    /// <c>no-cgroups = true</c> (the legacy hook's cgroup setup fails inside LXC: <c>bpf_prog_query(BPF_CGROUP_DEVICE) failed:
    /// operation not permitted</c>), the <c>nvidia</c> runtime registered with Docker (and CDI enabled where Docker has it
    /// off), the CDI spec where Docker has CDI, and Docker restarted only when its config changed. Returns what changed.
    /// </summary>
    /// <exception cref="JobFailedException"><c>commandFailed</c>; <c>preconditionFailed</c> when daemon.json is not JSON.</exception>
    public async Task<IReadOnlyList<string>> ConfigureAsync(JobContext context, GuestTarget target, DockerVersion docker)
    {
        var changed = new List<string>();
        if (!DockerProfile.NoCgroups(await ReadAsync(context, target, DockerProfile.RuntimeConfigPath)))
        {
            await context.RunCheckedAsync(commands, Exec(target, ["nvidia-ctk", "config", "--set", "nvidia-container-cli.no-cgroups=true", "--in-place"], ToolTimeout));
            changed.Add($"no-cgroups = true in {DockerProfile.RuntimeConfigPath}");
        }

        var needs = DockerProfile.DaemonNeeds(await ReadAsync(context, target, DockerProfile.DaemonConfigPath), docker);
        if (needs.Error is not null)
        {
            throw new JobFailedException(new JobError("preconditionFailed",
                $"{DockerProfile.DaemonConfigPath} in container {target.ContainerId} is not valid JSON ({needs.Error}); GpuLxc does not overwrite it.",
                Fix: $"Fix {DockerProfile.DaemonConfigPath} inside the container (`dockerd --validate`), then POST the install again."));
        }

        var daemonChanged = false;
        if (needs.Runtime || needs.Cdi)
        {
            await context.RunCheckedAsync(commands, Exec(target,
                ["nvidia-ctk", "runtime", "configure", "--runtime=docker", .. needs.Cdi ? (string[])["--cdi.enabled"] : []], ToolTimeout));
            changed.Add($"{DockerProfile.DaemonConfigPath}: {string.Join(" and ", new[] { needs.Runtime ? "nvidia runtime registered" : null, needs.Cdi ? "features.cdi = true" : null }.OfType<string>())}");
            daemonChanged = true;
        }

        if (docker.SupportsCdi && await GenerateCdiAsync(context, target, onlyWhenPresent: false))
        {
            changed.Add($"CDI spec {DockerProfile.CdiSpecPath} generated");
        }

        if (daemonChanged)
        {
            await context.RunCheckedAsync(commands, Exec(target, ["systemctl", "restart", "docker"], ToolTimeout),
                $"Read `journalctl -u docker` inside container {target.ContainerId}: Docker did not restart with the new {DockerProfile.DaemonConfigPath}.");
            changed.Add("docker restarted");
        }

        return changed;
    }

    /// <summary>
    /// Writes <see cref="DockerProfile.CdiSpecPath"/> from <c>nvidia-ctk cdi generate</c> when it differs from what is
    /// there (the spec names the driver's versioned library files, so a driver change changes it). With
    /// <paramref name="onlyWhenPresent"/>, a container without the spec is left alone. Returns whether it wrote.
    /// </summary>
    public async Task<bool> GenerateCdiAsync(JobContext context, GuestTarget target, bool onlyWhenPresent)
    {
        var current = await ReadAsync(context, target, DockerProfile.CdiSpecPath);
        if (current is null && onlyWhenPresent)
        {
            return false;
        }

        var generated = await context.RunCheckedAsync(commands, Exec(target, ["nvidia-ctk", "cdi", "generate"], ToolTimeout));
        if (current is not null && generated.StandardOutput == current)
        {
            return false;
        }

        await context.RunCheckedAsync(commands, Exec(target, ["nvidia-ctk", "cdi", "generate", $"--output={DockerProfile.CdiSpecPath}"], ToolTimeout));
        return true;
    }

    /// <summary>The toolkit's version when all four packages are installed (<c>ii</c>) at one version; else null.</summary>
    private async Task<string?> InstalledToolkitAsync(JobContext context, GuestTarget target)
    {
        var query = await context.RunAsync(commands, Exec(target, ["dpkg-query", "-W", "-f", AptPinning.StatusFormat, .. DockerProfile.ToolkitPackages], GuestDrivers.ExecTimeout));
        var status = AptPinning.ParseStatus(query.StandardOutput);
        var versions = DockerProfile.ToolkitPackages.Select(p => status.TryGetValue(p, out var s) && AptPinning.IsInstalled(s.Status) ? s.Version : null).Distinct().ToList();
        return versions is [{ } version] ? version : null;
    }

    private async Task<string?> ReadAsync(JobContext context, GuestTarget target, string path)
    {
        var read = await context.RunAsync(commands, Exec(target, ["cat", path], GuestDrivers.ExecTimeout));
        return read.Succeeded ? read.StandardOutput : null;
    }

    private static HostCommand Exec(GuestTarget target, IReadOnlyList<string> argv, TimeSpan timeout) =>
        target.Backend.Exec(target.ContainerId, argv) with { Timeout = timeout };
}
