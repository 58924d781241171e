using System.Text.RegularExpressions;

namespace GpuLxc.Api.Drivers;

/// <summary>
/// The apt state GpuLxc owns inside a Debian or Ubuntu container: the preferences file that pins every binary of the
/// driver's source package at exactly the host's version, and the record of the holds GpuLxc set (so that a branch
/// change releases those and no hold the container's owner set). Pure text in and out; <see cref="GuestInstaller"/>
/// runs the commands.
/// </summary>
public static partial class AptPinning
{
    /// <summary>
    /// The preferences file GpuLxc writes before apt runs and rewrites on every install and resync. apt 1.9.11 and later
    /// (Debian 11, Ubuntu 20.04 on) match <c>Package: src:NAME</c> against every binary built from that source.
    /// </summary>
    public const string PreferencesPath = "/etc/apt/preferences.d/gpulxc-nvidia";

    /// <summary>One package name a line: the packages GpuLxc put on hold that were not held before it did.</summary>
    public const string HoldsPath = "/var/lib/gpulxc/apt-holds";

    /// <summary>Above 1000, apt keeps the pinned version even where that means a downgrade; nothing else the container has reaches it.</summary>
    public const int Priority = 1001;

    /// <summary>A Debian version (<c>1:550.127.05-1~deb12u1</c>): optional epoch, then what dpkg allows.</summary>
    public static bool IsDebianVersion(string? value) => value is not null && DebianVersionPattern().IsMatch(value);

    /// <summary>
    /// The preferences file's lines: one record per source package at its exact Debian version. The binaries that
    /// GpuLxc does not name (Debian's <c>nvidia-alternative</c>, <c>libnvidia-ptxjitcompiler1</c>, …) depend on the
    /// named ones with <c>=</c>, so they must resolve at the same version; a pin on the source package does that.
    /// </summary>
    /// <param name="hostVersion">The host module's version (<c>550.127.05</c>), for the explanation.</param>
    /// <param name="sources">What to pin (<c>src:SOURCE</c>, or a binary package's name where apt names no source) → Debian version, each already checked (<see cref="DriverInputs.IsPackage"/>, <see cref="IsDebianVersion"/>).</param>
    public static IReadOnlyList<string> Preferences(string hostVersion, IReadOnlyDictionary<string, string> sources) =>
        sources.OrderBy(s => s.Key, StringComparer.Ordinal).SelectMany((s, i) => (string[])[
            .. i > 0 ? [""] : Array.Empty<string>(),
            $"Explanation: Written by GpuLxc: the host's NVIDIA kernel module is {hostVersion}; its userspace driver stays at exactly that version.",
            $"Package: {s.Key}", $"Pin: version {s.Value}", $"Pin-Priority: {Priority}"]).ToList();

    /// <summary>
    /// The source package of each record of <c>apt-cache show PACKAGE=VERSION …</c>: its <c>Source:</c> field without
    /// the version in parentheses, or the package itself when the field is absent (dpkg's rule). Names or versions that
    /// are not well formed are left out.
    /// </summary>
    /// <returns>Source package → the Debian version of its binaries.</returns>
    public static IReadOnlyDictionary<string, string> ParseSources(string aptCacheShow)
    {
        var sources = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var record in aptCacheShow.Replace("\r", "", StringComparison.Ordinal).Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = record.Split('\n').Where(line => line.Length > 0 && !char.IsWhiteSpace(line[0]) && line.Contains(':', StringComparison.Ordinal))
                .Select(line => (Key: line[..line.IndexOf(':', StringComparison.Ordinal)], Value: line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim()))
                .GroupBy(f => f.Key, StringComparer.OrdinalIgnoreCase).ToDictionary(g => g.Key, g => g.First().Value, StringComparer.OrdinalIgnoreCase);
            if (!fields.TryGetValue("Package", out var package) || !fields.TryGetValue("Version", out var version))
            {
                continue;
            }

            var source = fields.TryGetValue("Source", out var named) ? named.Split(' ')[0] : package;
            if (DriverInputs.IsPackage(source) && IsDebianVersion(version))
            {
                sources[source] = version;
            }
        }

        return sources;
    }

    /// <summary>Package names, one a line (<c>apt-mark showhold</c>, the holds record); an architecture suffix is dropped, anything not a package name is ignored.</summary>
    public static IReadOnlySet<string> ParseNames(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(':')[0]).Where(DriverInputs.IsPackage).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// The holds record after a hold: what GpuLxc held before and holds again, and what it holds now that nobody held
    /// before it (a hold the container's owner set stays theirs).
    /// </summary>
    public static IReadOnlyList<string> Record(IReadOnlySet<string> recorded, IReadOnlySet<string> heldBefore, IReadOnlyList<string> holding) =>
        holding.Where(p => recorded.Contains(p) || !heldBefore.Contains(p)).Distinct().Order(StringComparer.Ordinal).ToList();

    /// <summary><c>dpkg-query -W -f</c>'s format for <see cref="ParseStatus"/>; dpkg expands the <c>\n</c> itself, so the argument has no line break.</summary>
    public const string StatusFormat = @"${db:Status-Abbrev}|${Package}|${Version}\n";

    /// <summary>
    /// <c>dpkg-query -W -f '${db:Status-Abbrev}|${Package}|${Version}\n'</c> lines → package → (status, version). The
    /// status is dpkg's abbreviation, trimmed: the selection (<c>i</c>nstall, <c>h</c>old, …), then the state (<c>ii</c>
    /// installed, <c>iU</c> unpacked, <c>iF</c> half-configured, <c>iH</c> half-installed, …), then an error flag if any
    /// (<c>R</c>: reinstall required).
    /// </summary>
    public static IReadOnlyDictionary<string, (string Status, string Version)> ParseStatus(string output)
    {
        var packages = new Dictionary<string, (string, string)>(StringComparer.Ordinal);
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var columns = line.Split('|');
            if (columns.Length == 3 && DriverInputs.IsPackage(columns[1].Split(':')[0]))
            {
                packages[columns[1].Split(':')[0]] = (columns[0].Trim(), columns[2].Trim());
            }
        }

        return packages;
    }

    /// <summary>
    /// Whether dpkg's abbreviated status says "installed and configured, no error" (<c>ii</c>, or <c>hi</c> when held):
    /// only that counts as having a version. The first letter is the selection (install, hold, …), the second the
    /// package's state, a third dpkg's error flag.
    /// </summary>
    public static bool IsInstalled(string status) => status.Length is 2 && status[0] is 'i' or 'h' && status[1] == 'i';

    /// <summary>apt's own lines that say why it failed: <c>E:</c> lines and the unmet dependencies it lists.</summary>
    public static IReadOnlyList<string> FailureLines(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => line.StartsWith("E: ", StringComparison.Ordinal) || FailureLinePattern().IsMatch(line))
            .Distinct().Take(20).ToList();

    /// <summary>What helps with an apt failure, chosen by what apt said.</summary>
    public static string Fix(string containerId, string output, string hostVersion)
    {
        // apt names "held packages" also when it merely changes them (--allow-change-held-packages): dpkg's failure comes first.
        if (output.Contains("dpkg was interrupted", StringComparison.Ordinal) || output.Contains("/usr/bin/dpkg returned an error code", StringComparison.Ordinal))
        {
            return $"dpkg failed inside container {containerId}: run `dpkg --configure -a` there and read its error (a full disk, a failing maintainer script), " +
                   $"then POST /api/v1/containers/{containerId}/driver/install again.";
        }

        if (output.Contains("held broken packages", StringComparison.Ordinal) || output.Contains("caused by held packages", StringComparison.Ordinal))
        {
            return $"A package apt needs is held or pinned at another version inside container {containerId}: look at `apt-mark showhold` and /etc/apt/preferences.d/ " +
                   $"there (GpuLxc's own pin is {PreferencesPath}, at {hostVersion}); release the other hold or pin, then POST /api/v1/containers/{containerId}/driver/install again.";
        }

        return $"Read apt's lines above; check the container's apt sources (`apt-get update` inside container {containerId}), then POST /api/v1/containers/{containerId}/driver/install again.";
    }

    [GeneratedRegex(@"^[0-9]+:[0-9][A-Za-z0-9.+~-]{0,99}\z|^[0-9][A-Za-z0-9.+~-]{0,99}\z")]
    private static partial Regex DebianVersionPattern();

    [GeneratedRegex(@"(Pre)?Depends: |Conflicts: |Breaks: |unmet dependencies|held broken packages|generated breaks")]
    private static partial Regex FailureLinePattern();
}
