using System.Diagnostics;
using System.Runtime.CompilerServices;
using GpuLxc.Api.Tests.Support;

namespace GpuLxc.Api.Tests.Drivers;

/// <summary>
/// Real Debian 12 containers with real apt 2.6 for <see cref="RealLxcAptTests"/>: a minbase root file system built
/// once with debootstrap from the Debian archive (kept under the temporary directory, so that a second run on the same
/// machine reuses it), and local repositories of stand-in packages (<c>standin-nvidia-repo.sh</c>: the dependency
/// graph of the real packages, placeholder files) that every container reads at <c>/srv/gpulxc-repo</c> through a
/// read-only bind mount. The containers have no network (<c>lxc.net.0.type = empty</c>).
/// </summary>
public sealed class RealAptGuests : IDisposable
{
    public const string RepositoryInside = "/srv/gpulxc-repo";

    private static readonly string Cache = Path.Join(Path.GetTempPath(), "gpulxc-real-apt");
    private static readonly string Script = Path.Join(SourceDirectory(), "standin-nvidia-repo.sh");
    private readonly List<string> _containers = [];
    private readonly Lock _gate = new();
    private bool _prepared;

    /// <summary>This run's repositories: <c>debian/</c> (suites), <c>flat/</c> and <c>ubuntu/</c> (suites).</summary>
    public string Repository { get; } = Directory.CreateTempSubdirectory("gpulxc-real-apt-repo-").FullName;

    public static string Rootfs => Path.Join(Cache, "bookworm-minbase");

    /// <summary>How long debootstrap took (zero when an earlier run's root file system was reused) and the repositories took to build.</summary>
    public (TimeSpan Rootfs, TimeSpan Repositories) Timings { get; private set; }

    /// <summary>GPULXC_REAL_LXC_PREFIX keeps a developer's containers apart from CI's and other worktrees'.</summary>
    public static string Prefix => Environment.GetEnvironmentVariable("GPULXC_REAL_LXC_PREFIX") ?? "gpulxc-ci-";

    /// <summary>What these tests need; null when all is there. (CI runs as root and .ci/run installs the rest.)</summary>
    public static string? Missing() =>
        Environment.UserName != "root" ? "root (CI runs as root)"
        : new[] { "lxc-create", "lxc-start", "lxc-attach", "debootstrap", "dpkg-deb", "dpkg-scanpackages" }.FirstOrDefault(t => !OnPath(t)) is { } tool
            ? $"{tool} (apt-get install lxc debootstrap dpkg-dev; .ci/run does)"
            : null;

    /// <summary>Builds the root file system (or reuses a finished one) and the repositories, once.</summary>
    public void Prepare()
    {
        lock (_gate)
        {
            if (_prepared)
            {
                return;
            }

            if (Missing() is { } missing)
            {
                throw new InvalidOperationException($"Real apt tests cannot run: {missing} is missing.");
            }

            var rootfs = Stopwatch.StartNew();
            if (!File.Exists(Path.Join(Cache, "bookworm-minbase.complete")))
            {
                Directory.CreateDirectory(Cache);
                if (Directory.Exists(Rootfs))
                {
                    HostTree.Run("rm", "-rf", Rootfs);
                }

                // libssl3: the stand-in libnvidia-pkcs11-openssl3 depends on it as the real one does, and the containers reach no archive.
                HostTree.Run("debootstrap", "--variant=minbase", "--include=libssl3", "bookworm", Rootfs,
                    Environment.GetEnvironmentVariable("GPULXC_DEBIAN_MIRROR") ?? "http://deb.debian.org/debian");
                File.WriteAllText(Path.Join(Cache, "bookworm-minbase.complete"), DateTimeOffset.UtcNow.ToString("O"));
                rootfs.Stop();
            }
            else
            {
                rootfs.Reset();
            }

            var repositories = Stopwatch.StartNew();
            BuildRepositories();
            Timings = (rootfs.Elapsed, repositories.Elapsed);
            _prepared = true;
        }
    }

    /// <summary>Runs one function of <c>standin-nvidia-repo.sh</c> (<c>debian POOL VERSION</c>, <c>suite REPO SUITE</c>, …).</summary>
    public static void Repo(params string[] arguments) => HostTree.Run("bash", [Script, .. arguments]);

    /// <summary>Publishes Debian's binaries at <paramref name="version"/> in <paramref name="suite"/> and indexes the suite again.</summary>
    public void PublishDebian(string suite, string version)
    {
        Repo("debian", $"{Repository}/debian/pool/{suite}", version);
        Repo("suite", $"{Repository}/debian", suite);
    }

    /// <summary>
    /// A running container on a copy of the root file system, reading <paramref name="sources"/> as its only apt
    /// sources; <paramref name="osRelease"/> replaces its <c>/etc/os-release</c>.
    /// </summary>
    public string Create(string label, string sources, string? osRelease = null)
    {
        var name = $"{Prefix}{label}-{Guid.NewGuid().ToString("N")[..6]}";
        var directory = $"/var/lib/lxc/{name}";
        Directory.CreateDirectory(directory);
        lock (_gate)
        {
            _containers.Add(name);
        }

        HostTree.Run("cp", "-a", Rootfs, $"{directory}/rootfs");
        File.WriteAllText($"{directory}/rootfs/etc/apt/sources.list", sources);
        if (osRelease is not null)
        {
            File.Delete($"{directory}/rootfs/etc/os-release");
            File.WriteAllText($"{directory}/rootfs/etc/os-release", osRelease);
        }

        // minbase has no init: a sleeping PID 1 keeps the container running for lxc-attach.
        File.WriteAllText($"{directory}/config", $"""
            lxc.rootfs.path = dir:{directory}/rootfs
            lxc.uts.name = {name}
            lxc.arch = amd64
            lxc.init.cmd = /bin/sleep infinity
            lxc.net.0.type = empty
            lxc.apparmor.profile = unconfined
            lxc.autodev = 1
            lxc.tty.max = 0
            lxc.pty.max = 16
            lxc.cap.drop = sys_module mac_admin mac_override sys_time
            lxc.mount.auto = cgroup:mixed proc:mixed sys:ro
            lxc.mount.entry = {Repository} {RepositoryInside[1..]} none ro,bind,create=dir 0 0

            """);
        HostTree.Run("lxc-start", "-n", name);
        for (var attempt = 0; attempt < 100 && HostTree.Run("lxc-info", "-n", name, "-s", "-H").Trim() != "RUNNING"; attempt++)
        {
            Thread.Sleep(100);
        }

        return name;
    }

    /// <summary>A shell script run inside the container; its output and errors together (it never throws).</summary>
    public static string Inside(string container, string script)
    {
        using var process = Process.Start(new ProcessStartInfo("lxc-attach", ["-n", container, "--clear-env", "--", "/bin/sh", "-c", $"{{ {script}; }} 2>&1"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return output.Result + error;
    }

    /// <summary>
    /// <c>installed VERSION</c> for each package dpkg has installed and configured (held or not), else dpkg's own
    /// abbreviated status and version (<c>iU 550.120-1</c>), or <c>none</c>; in the order asked.
    /// </summary>
    public static IReadOnlyList<string> Dpkg(string container, params string[] packages) =>
        packages.Select(p => Inside(container, $"dpkg-query -W -f '${{db:Status-Abbrev}}|${{Version}}' {p} 2>/dev/null || echo none").Trim()).Select(s =>
            s.Split('|') is [var status, var version] ? (GpuLxc.Api.Drivers.AptPinning.IsInstalled(status.Trim()) ? $"installed {version}" : $"{status.Trim()} {version}") : s).ToList();

    public void Dispose()
    {
        foreach (var name in _containers)
        {
            Quietly("lxc-stop", "-n", name, "-k");
            Quietly("lxc-destroy", "-n", name, "-f");
        }

        Quietly("rm", "-rf", Repository);
    }

    private void BuildRepositories()
    {
        var debian = $"{Repository}/debian";
        var flat = $"{Repository}/flat";
        var ubuntu = $"{Repository}/ubuntu";
        // Debian: the suite has several versions, point releases come through the security suite, the next branch
        // through backports (NotAutomatic); 550.120 fails to configure; 550.144.03 is only in the flat repository.
        Repo("debian_helpers", $"{debian}/pool/bookworm");
        foreach (var version in (string[])["535.183.01-1", "550.54.14-1", "550.127.05-1"])
        {
            Repo("debian", $"{debian}/pool/bookworm", version);
        }

        Repo("debian_broken", $"{debian}/pool/bookworm", "550.120-1");
        Repo("debian", $"{debian}/pool/bookworm-security", "550.163.01-0+deb12u1");
        Repo("debian", $"{debian}/pool/bookworm-backports", "560.35.03-1~bpo12+1");
        foreach (var suite in (string[])["bookworm", "bookworm-security", "bookworm-backports"])
        {
            Repo("suite", debian, suite);
        }

        Directory.CreateDirectory(flat);
        foreach (var helper in Directory.GetFiles($"{debian}/pool/bookworm", "*.deb").Where(f => !Path.GetFileName(f).Contains("_5", StringComparison.Ordinal)))
        {
            File.Copy(helper, Path.Join(flat, Path.GetFileName(helper)));
        }

        Repo("debian", flat, "550.144.03-1");
        Repo("flat", flat);

        // Ubuntu's graph (assumed, see RealLxcAptTests): branch-suffixed names and -server twins; -590's names became
        // transitional packages built from the 595 source that depend on -595.
        Repo("ubuntu", $"{ubuntu}/pool/noble", "550", "550.127.05-0ubuntu0.24.04.1");
        Repo("ubuntu", $"{ubuntu}/pool/noble", "550", "550.127.05-0ubuntu0.24.04.1", "server");
        Repo("ubuntu", $"{ubuntu}/pool/noble", "590", "590.48.01-0ubuntu0.24.04.1");
        Repo("ubuntu", $"{ubuntu}/pool/noble", "595", "595.45.04-0ubuntu0.24.04.1");
        Repo("ubuntu", $"{ubuntu}/pool/noble-updates", "550", "550.163.01-0ubuntu0.24.04.1");
        Repo("ubuntu_transitional", $"{ubuntu}/pool/noble-updates", "590", "595", "595.45.04-0ubuntu0.24.04.1");
        Repo("suite", ubuntu, "noble");
        Repo("suite", ubuntu, "noble-updates");
    }

    private static bool OnPath(string tool) =>
        ((Environment.GetEnvironmentVariable("PATH") ?? "") + ":/usr/sbin:/usr/bin:/sbin").Split(':', StringSplitOptions.RemoveEmptyEntries).Any(d => File.Exists(Path.Join(d, tool)));

    private static void Quietly(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        process.WaitForExit();
    }

    private static string SourceDirectory([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}

/// <summary>
/// A real-apt test: skipped with the reason on a machine without its prerequisites, and failing under CI (CI=true),
/// where a missing tool is a broken .ci/run, not a reason to pass quietly.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class RealAptFactAttribute : FactAttribute
{
    public RealAptFactAttribute()
    {
        if (RealAptGuests.Missing() is { } missing && Environment.GetEnvironmentVariable("CI") != "true")
        {
            Skip = $"Real apt tests need {missing}; under CI=true this test fails instead.";
        }
    }
}
