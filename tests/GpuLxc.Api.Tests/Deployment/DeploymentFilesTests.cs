using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.Tests.Support;

namespace GpuLxc.Api.Tests.Deployment;

/// <summary>
/// deploy/, the Dockerfile and the compose files, read by the tools that read them and run as far as this machine
/// allows: the unit through systemd-analyze and with its environment; the Dockerfile's stages replayed without Docker
/// (its build stage's publish, its runtime stage in a private mount namespace through its entrypoint); the compose
/// files through docker-compose; the nsenter wrappers in a PID namespace whose init stands for the host's.
/// </summary>
public sealed partial class DeploymentFilesTests(BuildStageOutput image) : IClassFixture<BuildStageOutput>
{
    private static readonly string UnitFile = Path.Join(Repository.Root, "deploy", "gpulxc.service");
    private static readonly string NsenterBin = Path.Join(Repository.Root, "deploy", "nsenter-bin");

    [RequiresToolFact("systemd-analyze")]
    public void SystemdAnalyzeVerifiesTheUnitWithoutAWord()
    {
        var analyze = RequiresToolFactAttribute.Require("systemd-analyze");
        var work = Directory.CreateTempSubdirectory("gpulxc-unit-").FullName;
        try
        {
            // verify also wants ExecStart's binary to exist: a stand-in takes its place; every other line is as shipped.
            const string execStart = "\nExecStart=/opt/gpulxc/GpuLxc.Api\n";
            var standIn = Path.Join(work, "GpuLxc.Api");
            File.WriteAllText(standIn, "#!/bin/sh\n");
            File.SetUnixFileMode(standIn, (UnixFileMode)0b111_101_101);
            var unit = File.ReadAllText(UnitFile);
            Assert.Contains(execStart, unit, StringComparison.Ordinal);
            File.WriteAllText(Path.Join(work, "gpulxc.service"), unit.Replace(execStart, $"\nExecStart={standIn}\n", StringComparison.Ordinal));

            var result = Processes.Run(analyze, ["verify", Path.Join(work, "gpulxc.service")]);

            // Unknown keys and bad values leave the exit code at 0 and are only printed: any output is a finding.
            Assert.True(result.ExitCode == 0 && result.Output.Length == 0, $"systemd-analyze verify exited {result.ExitCode}:\n{result.Output}");
        }
        finally
        {
            HostTree.DeleteDirectory(work);
        }
    }

    [Fact]
    public void TheUnitRunsThePublishAsRootWithoutTheSandboxingThatWouldStopAHostAgent()
    {
        var unit = UnitDirectives();

        Assert.Equal("/opt/gpulxc/GpuLxc.Api", Assert.Single(unit["ExecStart"]));
        Assert.Equal("gpulxc", Assert.Single(unit["StateDirectory"]));
        Assert.Equal("on-failure", Assert.Single(unit["Restart"]));
        Assert.Equal("-/etc/gpulxc/gpulxc.env", Assert.Single(unit["EnvironmentFile"]));
        Assert.Contains("ASPNETCORE_ENVIRONMENT=Production", unit["Environment"]);
        Assert.Contains("Urls=http://127.0.0.1:5080", unit["Environment"]);
        string[] breaksTheAgent =
        [
            "User", "DynamicUser", "ProtectSystem", "ProtectHome", "PrivateDevices", "DevicePolicy", "DeviceAllow", "ProtectClock",
            "ProtectKernelModules", "ProtectKernelTunables", "ProtectControlGroups", "NoNewPrivileges", "RestrictSUIDSGID",
            "RestrictNamespaces", "SystemCallFilter", "CapabilityBoundingSet", "UMask",
        ];
        Assert.DoesNotContain(breaksTheAgent, unit.ContainsKey);
    }

    [Fact]
    public async Task ThePublishStartsWithTheUnitsEnvironmentAndKeepsItsStateInTheStateDirectory()
    {
        using var host = HostTree.Proxmox();
        var work = Directory.CreateTempSubdirectory("gpulxc-unit-run-").FullName;
        try
        {
            var port = ServiceProcess.FreePort();
            var environment = UnitDirectives()["Environment"].Select(line => line.Split('=', 2)).ToDictionary(pair => pair[0], pair => pair[1]);
            environment["Urls"] = WithPort(environment["Urls"], port);
            // What systemd adds for StateDirectory=gpulxc; and a prepared host instead of this machine.
            environment["STATE_DIRECTORY"] = Directory.CreateDirectory(Path.Join(work, "state")).FullName;
            environment["GpuLxc__Host__Root"] = host.Root;
            using var service = new ServiceProcess(Path.Join(image.Output, "GpuLxc.Api"), [], environment, work);
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

            await service.WaitUntilAsync(() => AnswersAsync(http, "/healthz"));

            var key = Path.Join(work, "state", "api-key");
            Assert.True(File.Exists(key), "The generated key is not in $STATE_DIRECTORY.");
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
            Assert.False(Directory.Exists(Path.Join(work, "data")), "The service kept state in its working directory.");
            Assert.Contains(service.Lines, line => line.StartsWith("<6>", StringComparison.Ordinal));
        }
        finally
        {
            HostTree.DeleteDirectory(work);
        }
    }

    [Fact]
    public void ThePublishStoppedByABadSettingExitsWithTheCodeTheUnitDoesNotRestartOn()
    {
        using var host = HostTree.Proxmox();
        var work = Directory.CreateTempSubdirectory("gpulxc-unit-bad-").FullName;
        try
        {
            var environment = UnitDirectives()["Environment"].Select(line => line.Split('=', 2)).ToDictionary(pair => pair[0], pair => (string?)pair[1]);
            environment["Urls"] = WithPort(environment["Urls"]!, ServiceProcess.FreePort());
            environment["STATE_DIRECTORY"] = Directory.CreateDirectory(Path.Join(work, "state")).FullName;
            environment["GpuLxc__Host__Root"] = host.Root;
            environment["GpuLxc__Host__Backend"] = "bogus";

            var result = Processes.Run(Path.Join(image.Output, "GpuLxc.Api"), [], work, environment);

            Assert.Equal(StartupFailure.ConfigurationExitCode, result.ExitCode);
            Assert.Equal(result.ExitCode.ToString(CultureInfo.InvariantCulture), Assert.Single(UnitDirectives()["RestartPreventExitStatus"]));
            Assert.Single(result.Output.Split('\n'), line => line.StartsWith("<2>", StringComparison.Ordinal) && line.Contains("GpuLxc:Host:Backend", StringComparison.Ordinal));
        }
        finally
        {
            HostTree.DeleteDirectory(work);
        }
    }

    [Fact]
    public async Task TheRuntimeStageReplayedInAPrivateMountNamespaceStartsThroughItsEntrypointAndPassesItsHealthCheck()
    {
        var runtime = image.Dockerfile.RuntimeStage.ToList();
        var entrypoint = Assert.Single(JsonSerializer.Deserialize<string[]>(runtime.Single(i => i.Keyword == "ENTRYPOINT").Arguments)!);
        var copies = runtime.Where(i => i.Keyword == "COPY").Select(i => i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        var (_, _, publishedTo) = image.CopyFromBuild();
        var entrypointSource = Path.Join(Repository.Root, copies.Single(c => c[^1] == entrypoint)[0]);
        var executable = ExecutablePattern().Match(File.ReadAllText(entrypointSource)).Groups["executable"].Value;
        Assert.StartsWith(publishedTo + "/", executable, StringComparison.Ordinal);
        var published = Path.Join(image.Output, Path.GetRelativePath(publishedTo, executable));
        Assert.True(File.Exists(published) && (File.GetUnixFileMode(published) & UnixFileMode.UserExecute) != 0, $"The build stage did not publish {executable}.");

        using var host = HostTree.Proxmox();
        var work = Directory.CreateTempSubdirectory("gpulxc-container-").FullName;
        try
        {
            var port = ServiceProcess.FreePort();
            var environment = Dockerfile.Environment(runtime);
            Assert.Equal(environment["GpuLxc__DataDir"], Assert.Single(runtime, i => i.Keyword == "VOLUME").Arguments);
            Assert.StartsWith("/run/", environment["GPULXC_HOST_BIN"], StringComparison.Ordinal);
            environment["Urls"] = WithPort(environment["Urls"], port);
            environment["GpuLxc__DataDir"] = Path.Join(work, "data");
            environment["GpuLxc__Host__Root"] = host.Root;
            var healthCheck = WithPort(HealthCheckPattern().Match(string.Join('\n', runtime.Where(i => i.Keyword == "HEALTHCHECK").Select(i => i.Arguments))).Groups["command"].Value, port);

            // PID 1 of a new PID namespace stands for the host's init; the image's files go onto tmpfs mounts that only
            // this namespace sees; the entrypoint runs in a mount namespace of its own, as in a container.
            var replay = new List<string> { "set -eu", "mount -t tmpfs tmpfs /opt", "mount -t tmpfs tmpfs /run" };
            foreach (var copy in copies)
            {
                var (source, destination) = (copy[0].StartsWith("--from=", StringComparison.Ordinal) ? image.Output : Path.Join(Repository.Root, copy[^2]), copy[^1]);
                Assert.StartsWith("/opt/", destination, StringComparison.Ordinal);
                replay.Add(Directory.Exists(source)
                    ? $"mkdir -p '{destination}' && cp -a '{source}/.' '{destination}/'"
                    : $"mkdir -p \"$(dirname '{destination}')\" && cp -a '{source}' '{destination}'");
            }

            replay.Add($"unshare --mount '{entrypoint}' &");
            replay.Add("wait");
            using var container = new ServiceProcess("unshare", ["--pid", "--fork", "--mount-proc", "/bin/sh", "-c", string.Join('\n', replay)], environment, work);

            await container.WaitUntilAsync(() => Task.FromResult(Processes.Run("/bin/sh", ["-c", healthCheck]).ExitCode == 0));

            Assert.True(File.Exists(Path.Join(work, "data", "api-key")), "The service did not keep its state in GpuLxc:DataDir.");
        }
        finally
        {
            HostTree.DeleteDirectory(work);
        }
    }

    [Fact]
    public void HostExecRunsTheHostsCommandWithHostPathsAndTheLinksFollowWhatTheHostHas()
    {
        // PID 1 of a new PID namespace plays the host's init, as the host's is for a container with pid: host. A private
        // tmpfs over /usr/local/bin is where a command gets "installed" on that host.
        const string script = """
            set -eu
            mount -t tmpfs tmpfs /usr/local/bin
            "$NSENTER_BIN/link-host-tools"
            echo "linked: $(ls "$GPULXC_HOST_BIN" | tr '\n' ' ')"
            "$GPULXC_HOST_BIN/dpkg-query" -W -f '${Package} answered\n' dpkg
            printf '#!/bin/sh\necho "nvidia-smi got:" "$@"\nexit 3\n' > /usr/local/bin/nvidia-smi
            chmod 755 /usr/local/bin/nvidia-smi
            "$GPULXC_HOST_BIN/sh" -c true
            echo "after install: $(ls "$GPULXC_HOST_BIN" | tr '\n' ' ')"
            "$GPULXC_HOST_BIN/nvidia-smi" -q "$GpuLxc__Host__Root/etc/pve/lxc/101.conf" "two words" || echo "exited $?"
            rm /usr/local/bin/nvidia-smi
            "$GPULXC_HOST_BIN/sh" -c true
            echo "after removal: $(ls "$GPULXC_HOST_BIN" | tr '\n' ' ')"
            """;
        var work = Directory.CreateTempSubdirectory("gpulxc-nsenter-").FullName;
        try
        {
            var result = Processes.Run("unshare", ["--pid", "--fork", "--mount-proc", "/bin/sh", "-c", script], work, new Dictionary<string, string?>
            {
                ["NSENTER_BIN"] = NsenterBin,
                ["GPULXC_HOST_BIN"] = Path.Join(work, "bin"),
                ["GpuLxc__Host__Root"] = "/host",
            });

            Assert.True(result.ExitCode == 0, result.Output);
            var lines = result.StandardOutput.Split('\n');
            var linked = Line(lines, "linked: ").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Assert.Contains("dpkg-query", linked);
            Assert.Contains("sh", linked);
            Assert.DoesNotContain("nvidia-smi", linked);
            Assert.Contains("dpkg answered", lines);
            Assert.Contains("nvidia-smi", Line(lines, "after install: ").Split(' '));
            Assert.Contains("nvidia-smi got: -q /etc/pve/lxc/101.conf two words", lines);
            Assert.Contains("exited 3", lines);
            Assert.DoesNotContain("nvidia-smi", Line(lines, "after removal: ").Split(' '));
        }
        finally
        {
            HostTree.DeleteDirectory(work);
        }
    }

    [Fact]
    public void HostToolsListsEveryCommandTheServiceRuns()
    {
        var listed = File.ReadAllLines(Path.Join(NsenterBin, "host-tools")).Where(line => line.Length > 0 && !line.StartsWith('#')).ToHashSet();
        var run = Directory.EnumerateFiles(Path.Join(Repository.Root, "src", "Api"), "*.cs", SearchOption.AllDirectories)
            .Where(path => !path.Contains("/obj/", StringComparison.Ordinal) && !path.Contains("/bin/", StringComparison.Ordinal))
            .SelectMany(path => CommandPattern().Matches(File.ReadAllText(path)).Select(match => match.Groups["program"].Value))
            .ToHashSet();

        Assert.Contains("pct", run);
        Assert.Empty(run.Except(listed));
        foreach (var script in (string[])["host-exec", "link-host-tools", "../docker-entrypoint.sh"])
        {
            Assert.True((File.GetUnixFileMode(Path.Join(NsenterBin, script)) & UnixFileMode.UserExecute) != 0, $"{script} is not executable.");
        }
    }

    [RequiresToolFact("docker-compose")]
    public void TheComposeFileValidatesAndGivesTheServiceTheHostAtItsHostRoot()
    {
        var quiet = Compose([], "-f", "docker-compose.yml", "config", "-q");
        var config = Compose([], "-f", "docker-compose.yml", "config");

        Assert.True(quiet.ExitCode == 0, quiet.Output);
        Assert.True(config.ExitCode == 0, config.Output);
        Assert.Contains("GpuLxc__Host__Root: /host", config.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("- /:/host:rslave", config.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("- /var/lib/gpulxc:/var/lib/gpulxc", config.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("pid: host", config.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("privileged: true", config.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1:5080:5080", config.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("GpuLxc__Jobs", config.StandardOutput, StringComparison.Ordinal);
    }

    [RequiresToolFact("docker-compose")]
    public void TheClusterFileAddsPostgresAndTheJobSettingsAndRefusesToRunWithoutItsSecrets()
    {
        string[] cluster = ["-f", "docker-compose.yml", "-f", "docker-compose.cluster.yml", "config"];
        var withoutSecrets = Compose([], [.. cluster, "-q"]);
        (string, string)[] secrets = [("GPULXC_DB_PASSWORD", "s3cret"), ("GPULXC_NODE", "pve2")];
        var quiet = Compose(secrets, [.. cluster, "-q"]);
        var config = Compose(secrets, cluster);

        Assert.NotEqual(0, withoutSecrets.ExitCode);
        Assert.Contains("GPULXC_DB_PASSWORD", withoutSecrets.Output, StringComparison.Ordinal);
        Assert.True(quiet.ExitCode == 0, quiet.Output);
        Assert.True(config.ExitCode == 0, config.Output);
        Assert.Contains("GpuLxc__Jobs__Storage: postgres", config.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("GpuLxc__Jobs__ConnectionString: Host=postgres;Database=gpulxc;Username=gpulxc;Password=s3cret", config.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("GpuLxc__Jobs__Node: pve2", config.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("image: postgres:17", config.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("condition: service_healthy", config.StandardOutput, StringComparison.Ordinal);
    }

    /// <summary>docker-compose in the repository root, with only the given variables (a developer's .env and shell stay out).</summary>
    private static ProcessResult Compose((string Name, string Value)[] variables, params string[] arguments)
    {
        var compose = RequiresToolFactAttribute.Require("docker-compose");
        var empty = Path.GetTempFileName();
        try
        {
            var environment = System.Environment.GetEnvironmentVariables().Keys.Cast<string>()
                .Where(name => name.StartsWith("GPULXC_", StringComparison.Ordinal) || name.StartsWith("COMPOSE_", StringComparison.Ordinal))
                .ToDictionary(name => name, _ => (string?)null);
            foreach (var (name, value) in variables)
            {
                environment[name] = value;
            }

            return Processes.Run(compose, ["--env-file", empty, .. arguments], Repository.Root, environment);
        }
        finally
        {
            File.Delete(empty);
        }
    }

    /// <summary>The unit's directives by key, comments left out, every section together.</summary>
    private static Dictionary<string, List<string>> UnitDirectives() =>
        File.ReadAllLines(UnitFile)
            .Where(line => line.Contains('=', StringComparison.Ordinal) && !line.StartsWith('#') && !line.StartsWith(';'))
            .Select(line => line.Split('=', 2))
            .GroupBy(pair => pair[0].Trim(), pair => pair[1].Trim())
            .ToDictionary(group => group.Key, group => group.ToList());

    private static string WithPort(string text, int port) =>
        text.Replace(":5080", ":" + port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);

    private static string Line(string[] lines, string prefix) => Assert.Single(lines, line => line.StartsWith(prefix, StringComparison.Ordinal))[prefix.Length..];

    private static async Task<bool> AnswersAsync(HttpClient http, string path)
    {
        try
        {
            using var response = await http.GetAsync(new Uri(path, UriKind.Relative));
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    [GeneratedRegex(@"exec nsenter --target 1 --uts -- (?<executable>/\S+)")]
    private static partial Regex ExecutablePattern();

    [GeneratedRegex(@"\bCMD (?<command>.+)$")]
    private static partial Regex HealthCheckPattern();

    [GeneratedRegex(@"(?:HostCommand\(|FindExecutable\(|new\()""(?<program>[a-z][a-z0-9_.+-]*)""(?:\)|, )")]
    private static partial Regex CommandPattern();
}
