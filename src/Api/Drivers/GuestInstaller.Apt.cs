using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Hosts;
using GpuLxc.Api.Jobs;

namespace GpuLxc.Api.Drivers;

/// <summary>What an apt install put into a container.</summary>
/// <param name="Pins">The packages named to apt, as <c>package=version</c>.</param>
/// <param name="Repositories">The repositories they came from, as madison names them (<c>file:/srv/flat ./</c>, <c>http://deb.debian.org/debian bookworm-security/non-free</c>).</param>
public sealed record AptInstall(IReadOnlyList<string> Pins, IReadOnlyList<string> Repositories);

public sealed partial class GuestInstaller
{
    /// <summary>
    /// Finds the packages of exactly the host's version (never a branch match), pins their source package at that
    /// version (<see cref="AptPinning.PreferencesPath"/>, written before apt runs), releases GpuLxc's own holds on
    /// packages it no longer installs (a branch change), installs, and checks that dpkg has every package installed
    /// and configured at that version.
    /// </summary>
    /// <exception cref="JobFailedException"><c>preconditionFailed</c> (no apt), <c>noExactVersion</c> naming what apt offers,
    /// <c>commandFailed</c> with apt's own lines and a fix, <c>versionMismatch</c> when dpkg left a package half-installed.</exception>
    public async Task<AptInstall> InstallAptAsync(JobContext context, GuestTarget target)
    {
        if (target.Family is not (OsFamily.Debian or OsFamily.Ubuntu))
        {
            throw new JobFailedException(new JobError("preconditionFailed",
                $"{target.Os.PrettyName ?? target.Os.Id ?? "The container's distribution"} has no apt packages of NVIDIA's driver.",
                Fix: "Use method runInstaller."));
        }

        await RunAptAsync(context, target, ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "update"]);
        var sets = AptCandidates.PackageSets(target.Family, target.HostVersion);
        var madison = await context.RunCheckedAsync(commands, Exec(target, ["apt-cache", "madison", .. sets.SelectMany(s => s).Distinct()], GuestDrivers.ExecTimeout));
        var hostSuite = target.Family == OsFamily.Debian ? await HostCodenameAsync(context.Cancellation) : null;
        var (chosen, found) = AptCandidates.Choose(sets, AptCandidates.ParseMadison(madison.StandardOutput), target.HostVersion,
            suite => hostSuite is null || suite == hostSuite || suite.StartsWith(hostSuite + "-", StringComparison.Ordinal));
        if (chosen is null || chosen.Any(c => !AptPinning.IsDebianVersion(c.Version)))
        {
            throw new JobFailedException(new JobError("noExactVersion",
                $"apt in container {target.ContainerId} offers no package set of exactly {target.HostVersion} " +
                $"{(hostSuite is null ? "" : $"from the host's suite {hostSuite} or a flat repository ")}(found {found}). A branch match is never installed: NVML would fail with 'Driver/library version mismatch'.",
                Fix: $"Use method runInstaller with NVIDIA-Linux-x86_64-{target.HostVersion}.run, or add a repository that has {target.HostVersion}."));
        }

        var pins = chosen.Select(c => c.Pin).ToList();
        var shown = await context.RunCheckedAsync(commands, Exec(target, ["apt-cache", "show", .. pins], GuestDrivers.ExecTimeout));
        var sources = AptPinning.ParseSources(shown.StandardOutput);
        await WriteAsync(context, target, AptPinning.PreferencesPath, AptPinning.Preferences(target.HostVersion, sources.Count > 0
            ? sources.ToDictionary(s => $"src:{s.Key}", s => s.Value, StringComparer.Ordinal)
            : chosen.ToDictionary(c => c.Package, c => c.Version, StringComparer.Ordinal)));
        await context.LogAsync($"pinned {(sources.Count > 0 ? string.Join(", ", sources.Select(s => $"src:{s.Key} at {s.Value}")) : string.Join(", ", pins))} in {AptPinning.PreferencesPath}");
        await ReleaseHoldsAsync(context, target, chosen.Select(c => c.Package).ToHashSet(StringComparer.Ordinal));

        await RunAptAsync(context, target,
            ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "--no-install-recommends", "--allow-downgrades", "--allow-change-held-packages", .. pins]);
        await RequireInstalledAsync(context, target, chosen);
        var repositories = chosen.Select(c => c.Repository).Where(r => r.Length > 0).Distinct().ToList();
        await context.LogAsync($"installed from {(repositories.Count == 0 ? "apt's sources" : string.Join("; ", repositories))}");
        return new AptInstall(pins, repositories);
    }

    /// <summary>
    /// <c>apt-mark hold</c>: an upgrade inside the container must not move it off the host's version. The packages that
    /// nobody held before are recorded in <see cref="AptPinning.HoldsPath"/>: those are GpuLxc's to release later.
    /// </summary>
    public async Task HoldAsync(JobContext context, GuestTarget target, IReadOnlyList<string> pins)
    {
        var packages = pins.Select(p => p.Split('=')[0]).ToList();
        var heldBefore = AptPinning.ParseNames((await context.RunCheckedAsync(commands, Exec(target, ["apt-mark", "showhold"], GuestDrivers.ExecTimeout))).StandardOutput);
        var recorded = await RecordedHoldsAsync(context, target);
        await context.RunCheckedAsync(commands, Exec(target, ["apt-mark", "hold", .. packages], GuestDrivers.ExecTimeout));
        await WriteAsync(context, target, AptPinning.HoldsPath, AptPinning.Record(recorded, heldBefore, packages));
    }

    /// <summary>
    /// Releases the holds GpuLxc set on packages that are not among <paramref name="keeping"/> (the old branch's on a
    /// branch change), and only those: a hold the container's owner set stays. apt's resolver never removes a held
    /// package, even with <c>--allow-change-held-packages</c>, so these would block the new branch.
    /// </summary>
    private async Task ReleaseHoldsAsync(JobContext context, GuestTarget target, HashSet<string> keeping)
    {
        var recorded = await RecordedHoldsAsync(context, target);
        var release = recorded.Where(p => !keeping.Contains(p)).Order(StringComparer.Ordinal).ToList();
        if (release.Count == 0)
        {
            return;
        }

        await context.RunCheckedAsync(commands, Exec(target, ["apt-mark", "unhold", .. release], GuestDrivers.ExecTimeout));
        await WriteAsync(context, target, AptPinning.HoldsPath, recorded.Where(keeping.Contains).Order(StringComparer.Ordinal));
        await context.LogAsync($"released GpuLxc's holds on {string.Join(", ", release)}");
    }

    private async Task<IReadOnlySet<string>> RecordedHoldsAsync(JobContext context, GuestTarget target)
    {
        var read = await context.RunAsync(commands, Exec(target, ["cat", AptPinning.HoldsPath], GuestDrivers.ExecTimeout));
        return read.Succeeded ? AptPinning.ParseNames(read.StandardOutput) : new HashSet<string>(StringComparer.Ordinal);
    }

    /// <summary>
    /// Every package named is installed and configured (<c>ii</c>) at the version named. dpkg can fail after unpacking
    /// (<c>iU</c>) or while configuring (<c>iF</c>); the files are then there, but that is no install.
    /// </summary>
    private async Task RequireInstalledAsync(JobContext context, GuestTarget target, IReadOnlyList<AptVersion> chosen)
    {
        var query = Exec(target, ["dpkg-query", "-W", "-f", AptPinning.StatusFormat, .. chosen.Select(c => c.Package)], GuestDrivers.ExecTimeout);
        var status = AptPinning.ParseStatus((await context.RunAsync(commands, query)).StandardOutput);
        var wrong = chosen.Where(c => !status.TryGetValue(c.Package, out var s) || !AptPinning.IsInstalled(s.Status) || s.Version != c.Version)
            .Select(c => status.TryGetValue(c.Package, out var s) ? $"{c.Package} {s.Version} ({s.Status})" : $"{c.Package} (not installed)").ToList();
        if (wrong.Count > 0)
        {
            throw new JobFailedException(new JobError("versionMismatch",
                $"apt finished, but dpkg in container {target.ContainerId} does not have every package installed at {target.HostVersion}: {string.Join(", ", wrong)}. " +
                "Only 'ii' (installed and configured) counts.",
                Command: query.ToString(),
                Fix: $"Run `dpkg --configure -a` inside container {target.ContainerId} and read its error, then POST /api/v1/containers/{target.ContainerId}/driver/install again."));
        }
    }

    /// <summary>Runs apt; a failure's error carries apt's own lines (<c>E:</c>, the unmet dependencies) and a fix chosen by what apt said.</summary>
    private async Task RunAptAsync(JobContext context, GuestTarget target, IReadOnlyList<string> argv)
    {
        var command = Exec(target, argv, AptTimeout);
        var result = await context.RunAsync(commands, command);
        if (!result.Succeeded)
        {
            var output = result.StandardOutput + "\n" + result.StandardError;
            var lines = AptPinning.FailureLines(output);
            throw new JobFailedException(JobContext.CommandFailed(command, result, AptPinning.Fix(target.ContainerId, output, target.HostVersion),
                $"'{string.Join(' ', argv.SkipWhile(a => a != "apt-get"))}' failed in container {target.ContainerId} (exit code {result.ExitCode})" +
                (lines.Count > 0 ? $": {string.Join(" | ", lines)}" : ".")));
        }
    }

    /// <summary>
    /// Writes a file GpuLxc owns inside the container, one argument a line: a temporary file beside it, then a rename,
    /// so that apt never reads half of it. The script is fixed; path and lines reach it as arguments, never as shell text.
    /// </summary>
    private async Task WriteAsync(JobContext context, GuestTarget target, string path, IEnumerable<string> lines) =>
        await context.RunCheckedAsync(commands, Exec(target,
            ["sh", "-c", "f=$1; shift; umask 022 && mkdir -p \"${f%/*}\" && : > \"$f.gpulxc-new\" && { [ $# -eq 0 ] || printf '%s\\n' \"$@\" > \"$f.gpulxc-new\"; } && mv -f \"$f.gpulxc-new\" \"$f\"",
             "sh", path, .. lines],
            GuestDrivers.ExecTimeout));

    private async Task<string?> HostCodenameAsync(CancellationToken cancellationToken) =>
        OsRelease.Parse(await files.TryReadTextAsync("/etc/os-release", cancellationToken) ?? "").GetValueOrDefault("VERSION_CODENAME");
}
