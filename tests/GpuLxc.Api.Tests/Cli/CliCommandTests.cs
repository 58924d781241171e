using System.Text.Json;
using GpuLxc.Api.Tests.Drivers;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Cli;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Cli;

/// <summary><c>gpulxc</c> against a running service: what it prints and what it exits with.</summary>
public sealed class CliCommandTests
{
    private const string Config101 = "/etc/pve/lxc/101.conf";

    [Fact]
    public async Task InventoryCommandsPrintWhatTheServiceAnswersAsTablesOrJson()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        var client = factory.CreateGpuLxcClient();
        var host = await client.GetHostAsync();
        var gpus = await client.ListGpusAsync();
        var report = await client.GetDiagnosticsAsync();

        var hostRun = await CliRun.RunAsync(factory, "host");
        var gpusRun = await CliRun.RunAsync(factory, "gpus", "--json");
        var containersRun = await CliRun.RunAsync(factory, "containers");
        var doctorRun = await CliRun.RunAsync(factory, "doctor");

        Assert.True(hostRun.ExitCode == ExitCodes.Ok, hostRun.ToString());
        Assert.Contains(host.Hostname!, hostRun.Out, StringComparison.Ordinal);
        Assert.Contains(host.KernelRelease!, hostRun.Out, StringComparison.Ordinal);
        using var printed = JsonDocument.Parse(gpusRun.Out);
        Assert.Equal(gpus.Gpus.Select(g => g.PciAddress), printed.RootElement.GetProperty("gpus").EnumerateArray().Select(g => g.GetProperty("pciAddress").GetString()));
        Assert.Contains("101", containersRun.Out, StringComparison.Ordinal);
        Assert.Contains("running", containersRun.Out, StringComparison.Ordinal);
        Assert.Equal(report.Status == CheckStatus.Fail ? ExitCodes.Failure : ExitCodes.Ok, doctorRun.ExitCode);
        // A long title wraps inside its cell: its first words are on the check's first line.
        Assert.All(report.Checks, check => Assert.Contains(check.Title[..Math.Min(check.Title.Length, 16)], doctorRun.Out, StringComparison.Ordinal));
        Assert.All(report.Checks.Where(c => c.Fix is not null && c.Fix.Length < 40), check => Assert.Contains(check.Fix!, doctorRun.Out, StringComparison.Ordinal));
    }

    [Fact]
    public async Task AttachWithDryRunPrintsTheDiffAndWritesNothingThenAttachesAndGuardsWithIfMatch()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        var before = factory.Host.Bytes(Config101);

        var plan = await CliRun.RunAsync(factory, "attach", "101", "--mode", "raw", "--dry-run");
        var unchanged = factory.Host.Bytes(Config101);
        var attach = await CliRun.RunAsync(factory, "attach", "101", "--mode", "raw");
        var stale = await CliRun.RunAsync(factory, "detach", "101", "--if-match", "\"0000000000000000000000000000000000000000\"");
        var stillAttached = factory.Host.Bytes(Config101);
        var detach = await CliRun.RunAsync(factory, "detach", "101", "--json");

        Assert.True(plan.ExitCode == ExitCodes.Ok, plan.ToString());
        Assert.Equal(before, unchanged);
        Assert.Contains("+lxc.cgroup2.devices.allow: c ", plan.Out, StringComparison.Ordinal);
        Assert.Contains("plan only, nothing written", plan.Out, StringComparison.Ordinal);
        Assert.True(attach.ExitCode == ExitCodes.Ok, attach.ToString());
        Assert.Contains("written", attach.Out, StringComparison.Ordinal);
        Assert.NotEqual(before, stillAttached);
        Assert.Equal(ExitCodes.Conflict, stale.ExitCode);
        Assert.Contains("fix:", stale.Error, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Ok, detach.ExitCode);
        Assert.True(JsonDocument.Parse(detach.Out).RootElement.GetProperty("changed").GetBoolean());
        Assert.Equal(before, factory.Host.Bytes(Config101));
    }

    [Fact]
    public async Task MistakesMissingThingsAndBadKeysHaveTheirOwnExitCodes()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());

        var noContainer = await CliRun.RunAsync(factory, "attach");
        var badState = await CliRun.RunAsync(factory, "jobs", "list", "--state", "finished");
        var badLimit = await CliRun.RunAsync(factory, "jobs", "list", "--limit", "0");
        var wordLimit = await CliRun.RunAsync(factory, "jobs", "list", "--limit", "abc");
        var anyCase = await CliRun.RunAsync(factory, "jobs", "list", "--kind", "DriverResync", "--state", "SUCCEEDED");
        var missing = await CliRun.RunAsync(factory, "jobs", "show", new string('a', 32), "--json");
        var noKey = await CliRun.RunAsync(factory, new Dictionary<string, string> { ["GPULXC_URL"] = "http://localhost" }, "host");
        var wrongKey = await CliRun.RunAsync(factory, new Dictionary<string, string> { ["GPULXC_URL"] = "http://localhost", ["GPULXC_KEY"] = "not-a-key-of-this-service" }, "host");
        var noConfig = await CliRun.RunAsync(factory, new Dictionary<string, string> { ["GPULXC_CONFIG"] = "/nonexistent/gpulxc.json", ["GPULXC_KEY"] = TestKeys.Admin }, "host");

        Assert.Equal(ExitCodes.Usage, noContainer.ExitCode);
        Assert.Equal(ExitCodes.Usage, badState.ExitCode);
        // Refused in the API's words: its camelCase names and the range, never a .NET type or a PascalCase name.
        Assert.Contains("--state: 'finished' is not a job state; use one of queued, running, succeeded, failed, cancelled.", badState.Error, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Usage, badLimit.ExitCode);
        Assert.Contains("--limit: '0' is not a whole number from 1 to 1000.", badLimit.Error, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Usage, wordLimit.ExitCode);
        Assert.DoesNotContain("System.", wordLimit.Error, StringComparison.Ordinal);
        Assert.True(anyCase.ExitCode == ExitCodes.Ok, anyCase.ToString());
        Assert.Equal(ExitCodes.NotFound, missing.ExitCode);
        Assert.Equal(404, JsonDocument.Parse(missing.Out).RootElement.GetProperty("status").GetInt32());
        Assert.Equal(ExitCodes.Usage, noKey.ExitCode);
        Assert.Contains("GPULXC_KEY", noKey.Error, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Unauthorized, wrongKey.ExitCode);
        Assert.Equal(ExitCodes.Usage, noConfig.ExitCode);
        Assert.Contains("GPULXC_CONFIG names /nonexistent/gpulxc.json, which does not exist", noConfig.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AttachPassesTheGroupAskedFor()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        var before = factory.Host.Bytes("/etc/pve/lxc/101.conf");

        var run = await CliRun.RunAsync(factory, "attach", "101", "--group", "gpulxc-no-such-group", "--json");

        Assert.Equal(ExitCodes.Conflict, run.ExitCode);
        Assert.Contains("gpulxc-no-such-group", run.Out, StringComparison.Ordinal);
        // 101 runs: whatever kept GpuLxc from the group, it is not that the container is stopped.
        Assert.DoesNotContain("not running", run.Out, StringComparison.Ordinal);
        Assert.Equal(before, factory.Host.Bytes("/etc/pve/lxc/101.conf"));
    }

    [Fact]
    public async Task TheKeyCanComeFromAKeyFileNamedInTheConfigFile()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        var directory = Directory.CreateTempSubdirectory("gpulxc-cli-");
        try
        {
            File.WriteAllText(Path.Join(directory.FullName, "api-key"), TestKeys.Admin + "\n");
            File.WriteAllText(Path.Join(directory.FullName, "cli.json"), $$"""{"url": "http://localhost", "keyFile": "{{Path.Join(directory.FullName, "api-key")}}"}""");

            var run = await CliRun.RunAsync(factory, new Dictionary<string, string> { ["GPULXC_CONFIG"] = Path.Join(directory.FullName, "cli.json") }, "containers", "--json");

            Assert.True(run.ExitCode == ExitCodes.Ok, run.ToString());
            Assert.Contains("\"101\"", run.Out, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task DriverInstallFollowsTheJobToItsEndAndTheJobsCommandsFindIt()
    {
        using var lab = new DriverLab();
        using var factory = new GpuLxcApiFactory(lab.Host);

        var install = await CliRun.RunAsync(factory, "driver", "install", "host");
        var job = Assert.Single(await factory.CreateGpuLxcClient().ListJobsAsync());
        var listed = await CliRun.RunAsync(factory, "jobs", "list", "--state", "succeeded", "--kind", "hostDriverInstall", "--json");
        var log = await CliRun.RunAsync(factory, "jobs", "log", job.Id);
        var wait = await CliRun.RunAsync(factory, "jobs", "wait", job.Id, "--json");
        var cancel = await CliRun.RunAsync(factory, "jobs", "cancel", job.Id);

        Assert.True(install.ExitCode == ExitCodes.Ok, install.ToString());
        Assert.Contains($"job {job.Id} succeeded", install.Out, StringComparison.Ordinal);
        Assert.All(job.Steps, step => Assert.Contains($"✔ {step.Title ?? step.Name}", install.Out, StringComparison.Ordinal));
        Assert.Contains("$ apt-get update", install.Out, StringComparison.Ordinal);
        Assert.Equal([job.Id], JsonDocument.Parse(listed.Out).RootElement.EnumerateArray().Select(j => j.GetProperty("id").GetString()));
        Assert.Contains("$ apt-get update", log.Out, StringComparison.Ordinal);
        Assert.Equal("succeeded", JsonDocument.Parse(wait.Out).RootElement.GetProperty("state").GetString());
        Assert.Equal(ExitCodes.Conflict, cancel.ExitCode);
    }

    [Fact]
    public async Task AFailedJobExitsOneWithTheFailedCommandAndTheFix()
    {
        using var lab = new DriverLab();
        lab.Stub("nvidia-detect", "echo 'nvidia-detect: no NVIDIA GPU found' >&2; exit 3");
        using var factory = new GpuLxcApiFactory(lab.Host);

        var install = await CliRun.RunAsync(factory, "driver", "install");
        var job = (await factory.CreateGpuLxcClient().ListJobsAsync()).Single();

        Assert.Equal(JobState.Failed, job.State);
        Assert.True(install.ExitCode == ExitCodes.Failure, install.ToString());
        Assert.Contains($"job {job.Id} failed", install.Out, StringComparison.Ordinal);
        Assert.Contains($"error: {job.Error!.Message}", install.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DriverInstallWithTheDockerProfileStartsTheProfilesStepsAndRefusesAnUnknownProfile()
    {
        using var lab = new DriverLab();
        using var factory = new GpuLxcApiFactory(lab.Host);
        await DriverLab.AttachAsync(factory.CreateGpuLxcClient());

        var bogus = await CliRun.RunAsync(factory, "driver", "install", "101", "--profile", "podman");
        var onHost = await CliRun.RunAsync(factory, "driver", "install", "host", "--profile", "docker");
        var started = await CliRun.RunAsync(factory, "driver", "install", "101", "--profile", "docker", "--restart", "--no-wait", "--json");

        Assert.True(bogus.ExitCode == ExitCodes.Usage, bogus.ToString());
        Assert.Contains("--profile must be one of plain, docker", bogus.Error + bogus.Out, StringComparison.Ordinal);
        Assert.True(onHost.ExitCode == ExitCodes.Usage, onHost.ToString());
        Assert.True(started.ExitCode == ExitCodes.Ok, started.ToString());
        var steps = JsonDocument.Parse(started.Out).RootElement.GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("name").GetString()).ToList();
        Assert.Equal(["features", "docker", "toolkit", "configure", "restart"], steps.TakeLast(5));
        Assert.Single(await factory.CreateGpuLxcClient().ListJobsAsync());
    }

    [Fact]
    public async Task NvencLeasesAreTakenShownAndGivenBack()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());

        var lease = await CliRun.RunAsync(factory, "nvenc", "lease", "--holder", "jellyfin", "--container", "101", "--json");
        var id = JsonDocument.Parse(lease.Out).RootElement.GetProperty("id").GetString()!;
        var status = await CliRun.RunAsync(factory, "nvenc", "status");
        var release = await CliRun.RunAsync(factory, "nvenc", "release", id);
        var again = await CliRun.RunAsync(factory, "nvenc", "release", id);

        Assert.True(lease.ExitCode == ExitCodes.Ok, lease.ToString());
        Assert.Contains(id, status.Out, StringComparison.Ordinal);
        Assert.Contains("jellyfin", status.Out, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Ok, release.ExitCode);
        Assert.Empty((await factory.CreateGpuLxcClient().GetNvencAsync()).Leases);
        Assert.Equal(ExitCodes.NotFound, again.ExitCode);
    }

    [Fact]
    public async Task EventsFollowsTheStreamFromAnIdAndPrintsOneEventALineWithJson()
    {
        using var lab = new DriverLab();
        using var factory = new GpuLxcApiFactory(lab.Host);
        var install = await CliRun.RunAsync(factory, "driver", "install", "host");
        var job = Assert.Single(await factory.CreateGpuLxcClient().ListJobsAsync());

        // The stream never ends by itself: the token stands in for Ctrl-C once the job's events had time to arrive.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(4));
        var json = await CliRun.RunAsync(factory, null, stop.Token, "events", "--after", "0", "--type", "job.stateChanged", "--json");
        using var stopHuman = new CancellationTokenSource(TimeSpan.FromSeconds(4));
        var human = await CliRun.RunAsync(factory, null, stopHuman.Token, "events", "--after", "0");
        var unknownType = await CliRun.RunAsync(factory, "events", "--type", "driver.exploded");

        Assert.True(install.ExitCode == ExitCodes.Ok, install.ToString());
        Assert.True(json.ExitCode == ExitCodes.Interrupted, json.ToString());
        var events = json.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement).ToList();
        Assert.NotEmpty(events);
        Assert.All(events, e => Assert.Equal("job.stateChanged", e.GetProperty("type").GetString()));
        Assert.All(events, e => Assert.Equal(job.Id, e.GetProperty("data").GetProperty("jobId").GetString()));
        Assert.Equal("succeeded", events[^1].GetProperty("data").GetProperty("state").GetString());
        Assert.Equal(events.Select(e => e.GetProperty("id").GetInt64()).Order(), events.Select(e => e.GetProperty("id").GetInt64()));
        Assert.Contains("job.stateChanged", human.Out, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Usage, unknownType.ExitCode);
    }
}
