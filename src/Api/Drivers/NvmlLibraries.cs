using System.Text.RegularExpressions;
using GpuLxc.Api.Containers;
using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Drivers;

/// <summary>
/// A container's <c>libnvidia-ml</c> files and the one NVML actually loads. The loader opens <c>libnvidia-ml.so.1</c>
/// where its cache (<c>ldconfig -p</c>) or the library directories put it, so the version that counts is the file that
/// name resolves to, through every link (Debian's go through the <c>nvidia</c> alternative into
/// <c>…/nvidia/current/</c>); other <c>libnvidia-ml.so.VERSION</c> files beside it (left by an earlier install) are
/// never loaded. A file that a package owns counts only when dpkg has that package installed and configured.
/// </summary>
/// <param name="Versions">Every <c>libnvidia-ml.so.VERSION</c> found, ascending (<c>550.127.05</c>).</param>
/// <param name="Loaded">The version <c>libnvidia-ml.so.1</c> resolves to; null when there is no such link or it leads to no versioned file.</param>
/// <param name="Link">The <c>libnvidia-ml.so.1</c> path inside the container; null when there is none.</param>
/// <param name="Target">The file name the link resolves to (<c>libnvidia-ml.so.550.127.05</c>); null without a link.</param>
/// <param name="Package">The package that owns the resolved file (<c>dpkg-query -S</c>); null when none does (a <c>.run</c> install) or there is no dpkg.</param>
/// <param name="PackageStatus">dpkg's abbreviated status of <paramref name="Package"/> (<c>ii</c>, <c>iU</c>, <c>iF</c>, …); null without a package.</param>
public sealed partial record NvmlLibraries(IReadOnlyList<string> Versions, string? Loaded, string? Link, string? Target, string? Package = null, string? PackageStatus = null)
{
    private const string Soname = "libnvidia-ml.so.1";

    /// <summary>How many links are followed from <c>libnvidia-ml.so.1</c> before giving up (a loop, or a long chain).</summary>
    private const int MaxHops = 6;

    /// <summary>Whether a package owns the loaded file but dpkg has not finished installing it (unpacked, half-configured, …).</summary>
    public bool HalfInstalled => Package is not null && (PackageStatus is null || !AptPinning.IsInstalled(PackageStatus));

    /// <summary>The version that counts as installed: <see cref="Loaded"/>, unless dpkg has its package only half installed.</summary>
    public string? Installed => HalfInstalled ? null : Loaded;

    /// <summary>The command that lists the container's <c>libnvidia-ml.so.*</c> files (the versioned ones and the loader's link), Debian's <c>…/x86_64-linux-gnu/nvidia/current/</c> included.</summary>
    public static HostCommand Find(IContainerBackend backend, string containerId) =>
        backend.Exec(containerId, ["find", "/usr/lib", "/usr/lib64", "/lib", "-maxdepth", "5", "-name", "libnvidia-ml.so.*"]) with { Timeout = GuestDrivers.ExecTimeout };

    /// <summary>The versions in <c>find</c>'s output (<c>/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.127.05</c> → <c>550.127.05</c>).</summary>
    public static IReadOnlyList<string> ParseVersions(string findOutput) =>
        LibraryPattern().Matches(findOutput).Select(m => m.Groups["version"].Value).Distinct().Order(StringComparer.Ordinal).ToList();

    /// <summary>
    /// Finds the files, takes <c>libnvidia-ml.so.1</c> where the loader's cache has it (else the 64-bit one found),
    /// resolves it with <c>readlink -f</c> (or, where that says nothing, <c>ls -l</c> hop by hop, which busybox has
    /// too) and asks dpkg who owns the file and in what state; <paramref name="run"/> runs a command inside the
    /// container (a job's logged run, or a plain one).
    /// </summary>
    public static async Task<NvmlLibraries> ReadAsync(IContainerBackend backend, string containerId, Func<HostCommand, Task<HostCommandResult>> run)
    {
        var found = await run(Find(backend, containerId));
        var paths = found.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var versions = ParseVersions(found.StandardOutput);
        var cache = await run(backend.Exec(containerId, ["ldconfig", "-p"]) with { Timeout = GuestDrivers.ExecTimeout });
        // The 64-bit library is the one a 64-bit program loads; a 32-bit copy (i386-linux-gnu) does not count.
        var link = (cache.Succeeded ? CachedPath(cache.StandardOutput) : null)
                   ?? paths.Where(p => Path.GetFileName(p) == Soname).OrderByDescending(p => p.Contains("64", StringComparison.Ordinal)).FirstOrDefault();
        if (link is null)
        {
            return new NvmlLibraries(versions, null, null, null);
        }

        var resolved = await ResolveAsync(backend, containerId, link, run);
        var name = Path.GetFileName(resolved);
        var libraries = new NvmlLibraries(versions, VersionOf(name), link, resolved == link ? null : name);
        return libraries.Loaded is null ? libraries : await WithOwnerAsync(libraries, backend, containerId, resolved, run);
    }

    /// <summary>The 64-bit <c>libnvidia-ml.so.1</c> in <c>ldconfig -p</c>'s list (<c>libnvidia-ml.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libnvidia-ml.so.1</c>); null when the cache has none.</summary>
    public static string? CachedPath(string ldconfigOutput) =>
        CachePattern().Matches(ldconfigOutput).Select(m => (Abi: m.Groups["abi"].Value, Path: m.Groups["path"].Value.Trim()))
            .Where(e => e.Path.StartsWith('/')).OrderByDescending(e => e.Abi.Contains("64", StringComparison.Ordinal)).Select(e => e.Path).FirstOrDefault();

    /// <summary>The file <paramref name="link"/> finally names: <c>readlink -f</c>, else <c>ls -l</c> hop by hop; the last path reached when neither gets further.</summary>
    private static async Task<string> ResolveAsync(IContainerBackend backend, string containerId, string link, Func<HostCommand, Task<HostCommandResult>> run)
    {
        var canonical = await run(backend.Exec(containerId, ["readlink", "-f", link]) with { Timeout = GuestDrivers.ExecTimeout });
        if (canonical.Succeeded && canonical.StandardOutput.Trim() is { Length: > 1 } path && path.StartsWith('/') && !path.Contains('\n', StringComparison.Ordinal))
        {
            return path;
        }

        var current = link;
        for (var hop = 0; hop < MaxHops; hop++)
        {
            var listing = await run(backend.Exec(containerId, ["ls", "-l", current]) with { Timeout = GuestDrivers.ExecTimeout });
            var arrow = ArrowPattern().Match(listing.StandardOutput);
            if (!listing.Succeeded || !arrow.Success)
            {
                // Not a link: the file itself is what loads (a copy named libnvidia-ml.so.1 carries no version in its name).
                return current;
            }

            var target = arrow.Groups["target"].Value.Trim();
            current = target.StartsWith('/') ? target : $"{Path.GetDirectoryName(current)}/{target}";
            if (VersionOf(Path.GetFileName(current)) is not null)
            {
                return current;
            }
        }

        return current;
    }

    /// <summary>The package that owns <paramref name="file"/> and dpkg's status of it; unchanged where no package owns it or there is no dpkg.</summary>
    private static async Task<NvmlLibraries> WithOwnerAsync(NvmlLibraries libraries, IContainerBackend backend, string containerId, string file, Func<HostCommand, Task<HostCommandResult>> run)
    {
        var owner = await run(backend.Exec(containerId, ["dpkg-query", "-S", file]) with { Timeout = GuestDrivers.ExecTimeout });
        var package = owner.Succeeded ? owner.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split(": ")[0].Split(':')[0].Trim())
            .FirstOrDefault(DriverInputs.IsPackage) : null;
        if (package is null)
        {
            return libraries;
        }

        var status = await run(backend.Exec(containerId, ["dpkg-query", "-W", "-f", AptPinning.StatusFormat, package]) with { Timeout = GuestDrivers.ExecTimeout });
        return libraries with { Package = package, PackageStatus = AptPinning.ParseStatus(status.StandardOutput).TryGetValue(package, out var s) ? s.Status : null };
    }

    /// <summary>What a reader of the container's driver should know: a missing or stale link, other versions that are not loaded, a half-installed package.</summary>
    public IEnumerable<string> Notes(string? hostVersion)
    {
        if (HalfInstalled)
        {
            yield return $"{Link} → {Target} belongs to {Package}, which dpkg has not finished installing ({PackageStatus ?? "status unknown"}): " +
                         $"{Loaded} does not count as installed. Run `dpkg --configure -a` inside the container, or reinstall the driver.";
        }

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

    [GeneratedRegex(@"^\s*libnvidia-ml\.so\.1 \((?<abi>[^)]*)\) => (?<path>\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex CachePattern();

    [GeneratedRegex(@" -> (?<target>\S.*)$", RegexOptions.Multiline)]
    private static partial Regex ArrowPattern();
}
