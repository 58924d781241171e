using System.Text.RegularExpressions;
using GpuLxc.Api.Containers;
using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Drivers;

/// <summary>
/// A container's <c>libnvidia-ml</c> files and the one NVML actually loads. The loader opens <c>libnvidia-ml.so.1</c>,
/// so the version that counts is the file that link resolves to; other <c>libnvidia-ml.so.VERSION</c> files beside it
/// (left by an earlier install) are never loaded.
/// </summary>
/// <param name="Versions">Every <c>libnvidia-ml.so.VERSION</c> found, ascending (<c>550.127.05</c>).</param>
/// <param name="Loaded">The version <c>libnvidia-ml.so.1</c> resolves to; null when there is no such link or it leads to no versioned file.</param>
/// <param name="Link">The <c>libnvidia-ml.so.1</c> path inside the container; null when there is none.</param>
/// <param name="Target">The file name the link resolves to (<c>libnvidia-ml.so.550.127.05</c>); null without a link.</param>
public sealed partial record NvmlLibraries(IReadOnlyList<string> Versions, string? Loaded, string? Link, string? Target)
{
    private const string Soname = "libnvidia-ml.so.1";

    /// <summary>How many links are followed from <c>libnvidia-ml.so.1</c> before giving up (a loop, or a long chain).</summary>
    private const int MaxHops = 4;

    /// <summary>The command that lists the container's <c>libnvidia-ml.so.*</c> files (the versioned ones and the loader's link).</summary>
    public static HostCommand Find(IContainerBackend backend, string containerId) =>
        backend.Exec(containerId, ["find", "/usr/lib", "/usr/lib64", "/lib", "-maxdepth", "3", "-name", "libnvidia-ml.so.*"]) with { Timeout = GuestDrivers.ExecTimeout };

    /// <summary>The versions in <c>find</c>'s output (<c>/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.127.05</c> → <c>550.127.05</c>).</summary>
    public static IReadOnlyList<string> ParseVersions(string findOutput) =>
        LibraryPattern().Matches(findOutput).Select(m => m.Groups["version"].Value).Distinct().Order(StringComparer.Ordinal).ToList();

    /// <summary>
    /// Finds the files and resolves <c>libnvidia-ml.so.1</c> with <c>ls -l</c> (which busybox has too), following a
    /// chain of links; <paramref name="run"/> runs a command inside the container (a job's logged run, or a plain one).
    /// </summary>
    public static async Task<NvmlLibraries> ReadAsync(IContainerBackend backend, string containerId, Func<HostCommand, Task<HostCommandResult>> run)
    {
        var found = await run(Find(backend, containerId));
        var paths = found.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var versions = ParseVersions(found.StandardOutput);
        // The 64-bit library is the one a 64-bit program loads; a 32-bit copy (i386-linux-gnu) does not count.
        var link = paths.Where(p => Path.GetFileName(p) == Soname).OrderByDescending(p => p.Contains("64", StringComparison.Ordinal)).FirstOrDefault();
        if (link is null)
        {
            return new NvmlLibraries(versions, null, null, null);
        }

        var current = link;
        for (var hop = 0; hop < MaxHops; hop++)
        {
            var listing = await run(backend.Exec(containerId, ["ls", "-l", current]) with { Timeout = GuestDrivers.ExecTimeout });
            var arrow = ArrowPattern().Match(listing.StandardOutput);
            if (!listing.Succeeded || !arrow.Success)
            {
                // Not a link: the file itself is what loads (a copy named libnvidia-ml.so.1 carries no version in its name).
                var name = Path.GetFileName(current);
                return new NvmlLibraries(versions, VersionOf(name), link, current == link ? null : name);
            }

            var target = arrow.Groups["target"].Value.Trim();
            current = target.StartsWith('/') ? target : $"{Path.GetDirectoryName(current)}/{target}";
            if (VersionOf(Path.GetFileName(current)) is { } version)
            {
                return new NvmlLibraries(versions, version, link, Path.GetFileName(current));
            }
        }

        return new NvmlLibraries(versions, null, link, Path.GetFileName(current));
    }

    /// <summary>What a reader of the container's driver should know: a missing or stale link, other versions that are not loaded.</summary>
    public IEnumerable<string> Notes(string? hostVersion)
    {
        if (Versions.Count == 0 && Link is null)
        {
            yield break;
        }

        if (Link is null)
        {
            yield return $"No {Soname} in the container: the loader finds no NVML although libnvidia-ml {string.Join(", ", Versions)} is present. " +
                         "Run `ldconfig` inside the container, or reinstall the driver.";
            yield break;
        }

        if (Loaded is null)
        {
            yield return Target is null
                ? $"{Link} is a file, not a link to a versioned library: its version is unknown."
                : $"{Link} leads to {Target}, which names no driver version.";
        }

        var unused = Versions.Where(v => v != Loaded).ToList();
        if (unused.Count > 0)
        {
            var stale = hostVersion is not null && Loaded != hostVersion && unused.Contains(hostVersion);
            yield return $"{Link} → {Target}: NVML loads {Loaded ?? "an unknown version"}; also present but not loaded: {string.Join(", ", unused)}." +
                         (stale ? $" The link is stale: {hostVersion}'s library is there, but the loader does not use it. Remove the old files and run `ldconfig` inside the container, or reinstall the driver." : "");
        }
    }

    private static string? VersionOf(string fileName) => VersionPattern().Match(fileName) is { Success: true } m ? m.Groups["version"].Value : null;

    [GeneratedRegex(@"libnvidia-ml\.so\.(?<version>[0-9]+\.[0-9]+(\.[0-9]+)?)\s*$", RegexOptions.Multiline)]
    private static partial Regex LibraryPattern();

    [GeneratedRegex(@"^libnvidia-ml\.so\.(?<version>[0-9]+\.[0-9]+(\.[0-9]+)?)$")]
    private static partial Regex VersionPattern();

    [GeneratedRegex(@" -> (?<target>\S.*)$", RegexOptions.Multiline)]
    private static partial Regex ArrowPattern();
}
