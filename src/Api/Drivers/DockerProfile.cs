using System.Globalization;
using System.Text.RegularExpressions;

namespace GpuLxc.Api.Drivers;

/// <summary>A Docker Engine version as <c>docker version --format {{.Server.Version}}</c> reports it (<c>28.2.2</c>, <c>26.1.5+dfsg1</c>).</summary>
public sealed record DockerVersion(string Text, int Major, int Minor)
{
    /// <summary>Docker 25 added CDI as an opt-in daemon feature (<c>features.cdi</c> in daemon.json).</summary>
    public bool SupportsCdi => Major >= 25;

    /// <summary>Docker 28.2 enables CDI by default.</summary>
    public bool CdiOnByDefault => Major > 28 || (Major == 28 && Minor >= 2);
}

/// <summary>
/// The facts and file checks of the docker guest profile, pure: which toolkit versions fit, the package set, what
/// <c>config.toml</c> and <c>daemon.json</c> must hold, and the fixes named when something is missing.
/// </summary>
public static partial class DockerProfile
{
    /// <summary>
    /// The oldest NVIDIA container toolkit installed: 1.17.8 fixes CVE-2025-23266 (container escape through the
    /// <c>enable-cuda-compat</c> createContainer hook) and CVE-2025-23267 (NVIDIA security bulletin 5659, July 2025).
    /// The audit's <see cref="ToolkitAudit.SecurityFloor"/>, spelled as a constant for the install route's description.
    /// </summary>
    public const string ToolkitFloor = "1.17.8";

    /// <summary>Where the floor comes from, for messages.</summary>
    public const string ToolkitFloorSource = "NVIDIA's security bulletin for CVE-2025-23266 and CVE-2025-23267 (https://nvidia.custhelp.com/app/answers/detail/a_id/5659)";

    /// <summary>The toolkit's packages, installed together at one exact version (as NVIDIA's install guide pins them).</summary>
    public static IReadOnlyList<string> ToolkitPackages { get; } =
        ["nvidia-container-toolkit", "nvidia-container-toolkit-base", "libnvidia-container-tools", "libnvidia-container1"];

    /// <summary>The NVIDIA container runtime's config inside the guest.</summary>
    public const string RuntimeConfigPath = ToolkitFiles.RuntimeConfigPath;

    /// <summary>Docker's daemon config inside the guest.</summary>
    public const string DaemonConfigPath = ToolkitFiles.DockerDaemonPath;

    /// <summary>The CDI spec GpuLxc generates inside (a re-sync regenerates it where it exists).</summary>
    public const string CdiSpecPath = "/etc/cdi/nvidia.yaml";

    /// <summary>The lines a plain LXC container needs for Docker inside; GpuLxc does not add them to an LXC config.</summary>
    public const string LxcNestingInclude = "/usr/share/lxc/config/nesting.conf";

    /// <summary>NVIDIA's install guide's commands that add its apt repository (run inside the container).</summary>
    public static string RepositoryCommands =>
        "curl -fsSL https://nvidia.github.io/libnvidia-container/gpgkey | gpg --dearmor -o /usr/share/keyrings/nvidia-container-toolkit-keyring.gpg && " +
        "curl -s -L https://nvidia.github.io/libnvidia-container/stable/deb/nvidia-container-toolkit.list | " +
        "sed 's#deb https://#deb [signed-by=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg] https://#g' | " +
        "tee /etc/apt/sources.list.d/nvidia-container-toolkit.list && apt-get update";

    /// <summary>The version <c>docker version</c> printed; null when it is not one.</summary>
    public static DockerVersion? ParseDockerVersion(string output)
    {
        var text = output.Trim();
        var match = DockerVersionPattern().Match(text);
        return match.Success
            ? new DockerVersion(text, int.Parse(match.Groups["major"].Value, CultureInfo.InvariantCulture), int.Parse(match.Groups["minor"].Value, CultureInfo.InvariantCulture))
            : null;
    }

    /// <summary>Whether a toolkit package version (<c>1.17.8-1</c>, <c>1.18.0~rc.1-1</c>) is at least <see cref="ToolkitFloor"/>; a pre-release of the floor is not.</summary>
    public static bool FitsFloor(string packageVersion)
    {
        var match = ToolkitVersionPattern().Match(packageVersion);
        if (!match.Success)
        {
            return false;
        }

        var parts = match.Groups["numbers"].Value.Split('.').Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        var floor = ToolkitFloor.Split('.').Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        for (var i = 0; i < 3; i++)
        {
            if (parts[i] != floor[i])
            {
                return parts[i] > floor[i];
            }
        }

        return !match.Groups["pre"].Success;
    }

    /// <summary>
    /// The newest version (madison lists newest first) at which apt has every one of <see cref="ToolkitPackages"/>;
    /// null when there is none, with what was found per package.
    /// </summary>
    public static (string? Version, string Found) ChooseToolkit(IReadOnlyList<AptVersion> available)
    {
        var version = available.Where(v => v.Package == ToolkitPackages[0]).Select(v => v.Version)
            .FirstOrDefault(candidate => ToolkitPackages.All(p => available.Any(v => v.Package == p && v.Version == candidate)));
        var found = string.Join("; ", ToolkitPackages.Select(p =>
            $"{p}: {(available.Where(v => v.Package == p).Select(v => v.Version).Distinct().ToList() is { Count: > 0 } versions ? string.Join(", ", versions) : "none")}"));
        return (version, found);
    }

    /// <summary>Whether <c>config.toml</c> sets <c>nvidia-container-cli.no-cgroups = true</c> (absent: the toolkit's default, false), by <see cref="ToolkitFiles.ParseRuntimeConfig"/>.</summary>
    public static bool NoCgroups(string? configToml) => ToolkitFiles.ParseRuntimeConfig(configToml ?? "").NoCgroups;

    /// <summary>
    /// What <c>daemon.json</c> lacks for the NVIDIA runtime (and CDI, where Docker has it off), by
    /// <see cref="ToolkitFiles.ParseDaemonJson"/>: <c>Runtime</c> when <c>runtimes.nvidia</c> is missing, <c>Cdi</c> when
    /// <c>features.cdi</c> must be set true; <c>Error</c> when the file is not JSON (Docker itself would not start). An absent file is empty.
    /// </summary>
    public static (bool Runtime, bool Cdi, string? Error) DaemonNeeds(string? daemonJson, DockerVersion docker)
    {
        var daemon = ToolkitFiles.ParseDaemonJson(string.IsNullOrWhiteSpace(daemonJson) ? "{}" : daemonJson);
        return (!daemon.NvidiaRuntime, docker.SupportsCdi && !(daemon.CdiFeature ?? docker.CdiOnByDefault), daemon.Error);
    }

    [GeneratedRegex(@"^(?<major>[0-9]{1,4})\.(?<minor>[0-9]{1,4})(\.[0-9]{1,4})?([-+~][0-9A-Za-z.+~-]{0,64})?\z")]
    private static partial Regex DockerVersionPattern();

    [GeneratedRegex(@"^(?:[0-9]+:)?(?<numbers>[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4})(?<pre>~[0-9A-Za-z.]+)?(-[0-9A-Za-z.+~]+)?\z")]
    private static partial Regex ToolkitVersionPattern();
}
