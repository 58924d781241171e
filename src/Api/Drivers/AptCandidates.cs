using GpuLxc.Api.Hosts;

namespace GpuLxc.Api.Drivers;

/// <summary>One version of a package that <c>apt-cache madison</c> lists, and where it comes from.</summary>
/// <param name="Package">The package.</param>
/// <param name="Version">Its full Debian version (<c>550.127.05-0ubuntu0.24.04.1</c>).</param>
/// <param name="Suite">The suite of the repository that has it (<c>noble-updates</c>, <c>bookworm</c>); null for a flat
/// repository (<c>deb URL /</c> or <c>deb URL ./</c>, as NVIDIA's CUDA repository is), which has no suite.</param>
/// <param name="Repository">The repository as madison names it: its URL, with the suite and component or the flat path
/// (<c>http://deb.debian.org/debian bookworm/non-free</c>, <c>file:/srv/flat ./</c>).</param>
public sealed record AptVersion(string Package, string Version, string? Suite, string Repository = "")
{
    /// <summary><c>package=version</c>, as <c>apt-get install</c> takes an exact version.</summary>
    public string Pin => $"{Package}={Version}";

    /// <summary>The upstream version: without the epoch and the Debian revision (<c>1:550.127.05-1~deb12u1</c> → <c>550.127.05</c>).</summary>
    public string Upstream
    {
        get
        {
            var version = Version;
            var colon = version.IndexOf(':', StringComparison.Ordinal);
            if (colon >= 0)
            {
                version = version[(colon + 1)..];
            }

            var dash = version.LastIndexOf('-');
            return dash > 0 ? version[..dash] : version;
        }
    }
}

/// <summary>
/// Which packages carry a container's userspace driver, and the choice of exactly the host's version among the
/// versions apt offers. A branch match (<c>550.120</c> for a host on <c>550.127.05</c>) is never taken: NVML then fails
/// with "Driver/library version mismatch".
/// </summary>
public static class AptCandidates
{
    /// <summary>
    /// The package sets that can carry <paramref name="version"/> on a distribution of <paramref name="family"/>, best first: Ubuntu's
    /// branch-suffixed packages (and their <c>-server</c> twins), NVIDIA's unsuffixed names from branch 590 on, or
    /// Debian's own packages: the current series', then the legacy and Tesla series' of the version's branch (the
    /// series the host's driver came from; see <see cref="DriverSeries"/>).
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<string>> PackageSets(OsFamily family, string version)
    {
        var branch = int.Parse(version.Split('.')[0], System.Globalization.CultureInfo.InvariantCulture);
        string[] ubuntu = ["libnvidia-compute", "libnvidia-encode", "libnvidia-decode", "nvidia-utils"];
        return family switch
        {
            OsFamily.Ubuntu when branch >= 590 => [ubuntu, ubuntu.Select(p => $"{p}-{branch}").ToArray()],
            OsFamily.Ubuntu => [ubuntu.Select(p => $"{p}-{branch}").ToArray(), ubuntu.Select(p => $"{p}-{branch}-server").ToArray()],
            OsFamily.Debian => [["libcuda1", "libnvidia-encode1", "libnvcuvid1", "libnvidia-ml1", "nvidia-smi"], DebianSeries($"legacy-{branch}xx"), DebianSeries($"tesla-{branch}")],
            _ => [],
        };
    }

    /// <summary>
    /// A legacy or Tesla series' own packages (<c>legacy-390xx</c> → <c>libnvidia-legacy-390xx-cuda1</c>, …,
    /// <c>nvidia-legacy-390xx-smi</c>): the host's series, never the current series' packages of another version.
    /// </summary>
    private static string[] DebianSeries(string variant) =>
        [$"libnvidia-{variant}-cuda1", $"libnvidia-{variant}-encode1", $"libnvidia-{variant}-nvcuvid1", $"libnvidia-{variant}-ml1", $"nvidia-{variant}-smi"];

    /// <summary>
    /// <c>apt-cache madison</c> lines: <c> libcuda1 | 535.216.01-1~deb12u1 | http://deb.debian.org/debian bookworm/non-free amd64 Packages</c>;
    /// a flat repository's lines name no suite and no architecture (<c>file:/srv/flat ./ Packages</c>,
    /// <c>https://…/x86_64  Packages</c> for <c>deb URL /</c>).
    /// </summary>
    public static IReadOnlyList<AptVersion> ParseMadison(string output)
    {
        var versions = new List<AptVersion>();
        foreach (var line in output.Split('\n'))
        {
            var columns = line.Split('|', StringSplitOptions.TrimEntries);
            if (columns.Length < 3 || columns[0].Length == 0 || columns[1].Length == 0)
            {
                continue;
            }

            var source = columns[2].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // A suite's line has URL, suite/component, architecture and "Packages"; a flat repository's has no architecture.
            var flat = source.Length < 4 || source[1] is "./" or "/" or "." || source[1].StartsWith("./", StringComparison.Ordinal);
            var suite = flat ? null : source[1].Split('/')[0];
            var repository = string.Join(' ', source.Where(token => token != "Packages"));
            versions.Add(new AptVersion(columns[0], columns[1], suite, repository));
        }

        return versions;
    }

    /// <summary>
    /// The first package set in which every package has a version whose upstream is exactly <paramref name="version"/>
    /// (from a suite <paramref name="suiteAllowed"/> accepts; a flat repository, which has no suite, is always accepted),
    /// one version per package; or null and what was found.
    /// </summary>
    public static (IReadOnlyList<AptVersion>? Chosen, string Found) Choose(
        IReadOnlyList<IReadOnlyList<string>> sets, IReadOnlyList<AptVersion> available, string version, Func<string, bool> suiteAllowed)
    {
        bool Allowed(AptVersion v) => v.Suite is null || suiteAllowed(v.Suite);
        foreach (var set in sets)
        {
            var chosen = set.Select(package => available.FirstOrDefault(v => v.Package == package && v.Upstream == version && Allowed(v))).ToList();
            if (chosen.All(p => p is not null))
            {
                return (chosen.Select(p => p!).ToList(), "");
            }
        }

        var found = sets.SelectMany(set => set).Select(package =>
        {
            var versions = available.Where(v => v.Package == package).Select(v => Allowed(v) ? v.Version : $"{v.Version} ({v.Suite}, not the host's suite)").Distinct().ToList();
            return $"{package}: {(versions.Count == 0 ? "none" : string.Join(", ", versions))}";
        });
        return (null, string.Join("; ", found));
    }
}

public enum OsFamily
{
    Other,
    Debian,
    Ubuntu,

    /// <summary>musl libc: NVIDIA's userspace driver needs glibc.</summary>
    Alpine,
}

public static class OsFamilies
{
    public static OsFamily Of(IReadOnlyDictionary<string, string> osRelease)
    {
        var ids = (osRelease.GetValueOrDefault("ID", "") + " " + osRelease.GetValueOrDefault("ID_LIKE", "")).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return ids.Contains("alpine") ? OsFamily.Alpine
            : ids.Contains("ubuntu") ? OsFamily.Ubuntu
            : ids.Contains("debian") ? OsFamily.Debian
            : OsFamily.Other;
    }

    public static OsInfo Info(IReadOnlyDictionary<string, string> osRelease) => OsRelease.ToOsInfo(osRelease);
}
