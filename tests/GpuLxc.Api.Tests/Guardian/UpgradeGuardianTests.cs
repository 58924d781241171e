using System.Diagnostics;
using GpuLxc.Api.Events;
using GpuLxc.Api.Tests.Drivers;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace GpuLxc.Api.Tests.Guardian;

/// <summary>
/// The morning after an update: the demo node (module 550.127.05, container 101 attached and in sync) reboots into
/// 550.135 — the banner, sysfs and modinfo of the test tree change while the service is down, and a second service
/// starts on the same data directory, as after a real reboot.
/// </summary>
public sealed class UpgradeGuardianTests(ITestOutputHelper output) : IDisposable
{
    private const string NewVersion = "550.135";

    private static readonly string Madison = string.Join('\n', ((string[])["libnvidia-compute-550", "libnvidia-encode-550", "libnvidia-decode-550", "nvidia-utils-550"])
        .Select(package => $" {package} | {NewVersion}-0ubuntu0.24.04.1 | http://archive.ubuntu.com/ubuntu noble-updates/restricted amd64 Packages"));

    private readonly DriverLab _lab = new();
    private readonly string _dataDir = Directory.CreateTempSubdirectory("gpulxc-guardian-").FullName;

    [Fact]
    public async Task WithAutoTheResyncStartsByItselfAfterARebootAndBringsTheContainerToTheNewVersion()
    {
        await BeforeTheRebootAsync("auto");

        Reboot();
        var clock = Stopwatch.StartNew();
        using var factory = Service("auto");
        var client = factory.CreateGpuLxcClient();
        var resync = await FirstJobAsync(client, JobKind.DriverResync, TimeSpan.FromSeconds(5));
        var startedAfter = clock.Elapsed;
        output.WriteLine($"service start → re-sync job created: {startedAfter.TotalMilliseconds:F0} ms");
        var job = await DriverLab.WaitAsync(client, resync.Id);
        var events = factory.Services.GetRequiredService<GpuLxc.Api.Events.EventLog>().After(0);
        var guardian = await client.GetGuardianAsync();

        Assert.True(startedAfter < TimeSpan.FromSeconds(5), $"the re-sync started {startedAfter.TotalSeconds:F1} s after the service");
        Assert.Equal("guardian", resync.RequestedBy);
        Assert.True(job.State == JobState.Succeeded, job.Error?.Message);
        var container = Assert.Single(job.Result!.Containers!);
        Assert.Equal(("101", DriverLab.HostVersion, NewVersion, "reinstalled"), (container.ContainerId, container.Before, container.After, container.Outcome));
        Assert.Equal(NewVersion, job.Result.HostVersion);
        var changed = Assert.Single(events, e => e.Type == EventTypes.DriverChanged);
        Assert.Equal((DriverLab.HostVersion, NewVersion), ((string?)changed.Data["previous"], (string?)changed.Data["current"]));
        var started = Assert.Single(events, e => e.Type == EventTypes.ResyncStarted);
        Assert.Equal((resync.Id, "guardian"), ((string?)started.Data["jobId"], (string?)started.Data["trigger"]));
        Assert.True(started.Id > changed.Id);
        Assert.Equal((DriverLab.HostVersion, NewVersion), (guardian.LastDriverChange!.Previous, guardian.LastDriverChange.Current));
        Assert.Contains(guardian.Actions, a => a.Action == "resyncStarted" && a.JobId == resync.Id);
        Assert.Equal(NewVersion, (await client.GetContainerDriverAsync("101")).InstalledVersion);
    }

    [Fact]
    public async Task WithAutoAModuleReloadedWhileTheServiceRunsIsResyncedWithinFiveSeconds()
    {
        _lab.GuestDriver(DriverLab.HostVersion, DriverLab.HostVersion);
        using var factory = Service("auto");
        factory.Settings["GpuLxc:Guardian:CheckSeconds"] = "1";
        var client = factory.CreateGpuLxcClient();
        await DriverLab.AttachAsync(client);
        await FirstCheckAsync(client);

        var clock = Stopwatch.StartNew();
        Reboot();
        var resync = await FirstJobAsync(client, JobKind.DriverResync, TimeSpan.FromSeconds(5));
        var startedAfter = clock.Elapsed;
        output.WriteLine($"module change → re-sync job created: {startedAfter.TotalMilliseconds:F0} ms");
        var job = await DriverLab.WaitAsync(client, resync.Id);

        Assert.True(startedAfter < TimeSpan.FromSeconds(5), $"the re-sync started {startedAfter.TotalSeconds:F1} s after the change");
        Assert.True(job.State == JobState.Succeeded, job.Error?.Message);
        Assert.Equal(NewVersion, Assert.Single(job.Result!.Containers!).After);
    }

    [Fact]
    public async Task WithNotifyAModuleChangeIsOnlyAnEventAndADiagnostic()
    {
        await BeforeTheRebootAsync("notify");

        Reboot();
        using var factory = Service("notify");
        var client = factory.CreateGpuLxcClient();
        var guardian = await FirstCheckAsync(client);
        var events = factory.Services.GetRequiredService<GpuLxc.Api.Events.EventLog>().After(0);
        var check = (await client.GetDiagnosticsAsync()).Checks.Single(c => c.Id == "upgrade-guardian");

        Assert.Empty(await client.ListJobsAsync(kind: JobKind.DriverResync));
        Assert.Equal(["101"], guardian.LastDriverChange!.MismatchedContainers);
        Assert.Single(events, e => e.Type == EventTypes.DriverChanged);
        var mismatch = Assert.Single(events, e => e.Type == EventTypes.UserspaceMismatch);
        Assert.Equal(("101", DriverLab.HostVersion, NewVersion), ((string?)mismatch.Data["containerId"], (string?)mismatch.Data["installed"], (string?)mismatch.Data["host"]));
        Assert.DoesNotContain(events, e => e.Type == EventTypes.ResyncStarted);
        Assert.Equal(CheckStatus.Warn, check.Status);
        Assert.Contains($"{DriverLab.HostVersion} → {NewVersion}", check.Detail, StringComparison.Ordinal);
        Assert.Contains("101", check.Detail, StringComparison.Ordinal);
        Assert.Contains("POST /api/v1/host/driver/resync", check.Fix, StringComparison.Ordinal);
        Assert.DoesNotContain(_lab.Commands, c => c.Contains("apt-get install", StringComparison.Ordinal));
    }

    [Fact]
    public async Task WithAutoAndHostUserspaceStoppedAStoppedHostUserspaceContainerIsReattachedToTheNewFiles()
    {
        HostUserspaceFiles(DriverLab.HostVersion);
        using (var before = Service("auto"))
        {
            var client = before.CreateGpuLxcClient();
            await client.AttachGpuAsync("102", new AttachRequest { Userspace = UserspaceSource.Host, Capabilities = [DriverCapability.Utility] });
            await FirstCheckAsync(client);
        }

        Reboot();
        HostUserspaceFiles(NewVersion);
        using var factory = Service("auto");
        factory.Settings["GpuLxc:Guardian:HostUserspace"] = "stopped";
        var guardian = await ActionAsync(factory.CreateGpuLxcClient(), "reattached");
        var config = File.ReadAllText(_lab.Host.PathOf("/etc/pve/lxc/102.conf"));

        Assert.Contains(guardian.Actions, a => a.Action == "reattached" && a.Detail.StartsWith("Container 102 re-attached", StringComparison.Ordinal));
        Assert.Contains($"libnvidia-ml.so.{NewVersion}", config, StringComparison.Ordinal);
        Assert.DoesNotContain($"libnvidia-ml.so.{DriverLab.HostVersion}", config, StringComparison.Ordinal);
        Assert.DoesNotContain(File.Exists(_lab.Host.PctLog) ? File.ReadAllLines(_lab.Host.PctLog) : [], line => line.Contains("102", StringComparison.Ordinal));
    }

    [Fact]
    public async Task WithOffNothingIsWatched()
    {
        await BeforeTheRebootAsync("notify");

        Reboot();
        using var factory = Service("off");
        var client = factory.CreateGpuLxcClient();
        await Task.Delay(1500);
        var guardian = await client.GetGuardianAsync();

        Assert.Equal(RepairPolicy.Off, guardian.Policy);
        Assert.Null(guardian.CheckedAt);
        Assert.Empty(factory.Services.GetRequiredService<GpuLxc.Api.Events.EventLog>().After(0));
        Assert.Empty(await client.ListJobsAsync());
    }

    public void Dispose()
    {
        _lab.Dispose();
        HostTree.DeleteDirectory(_dataDir);
    }

    internal static async Task<GuardianStatus> FirstCheckAsync(IGpuLxcClient client)
    {
        for (var i = 0; i < 200; i++)
        {
            var status = await client.GetGuardianAsync();
            if (status.CheckedAt is not null)
            {
                return status;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("The guardian did not check the host within 10 s of the start.");
    }

    internal static async Task<Job> FirstJobAsync(IGpuLxcClient client, JobKind kind, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < within + TimeSpan.FromSeconds(10))
        {
            if ((await client.ListJobsAsync(kind: kind)).FirstOrDefault() is { } job)
            {
                return job;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"No {kind} job was started within {clock.Elapsed.TotalSeconds:F0} s.");
    }

    internal static async Task<GuardianStatus> ActionAsync(IGpuLxcClient client, string action)
    {
        for (var i = 0; i < 200; i++)
        {
            var status = await client.GetGuardianAsync();
            if (status.Actions.Any(a => a.Action == action))
            {
                return status;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"The guardian took no '{action}' action within 10 s.");
    }

    /// <summary>The host's own userspace of <paramref name="version"/>, where the loader and the shell find it (what <c>userspace: host</c> binds).</summary>
    private void HostUserspaceFiles(string version) =>
        _lab.Host.WithFile($"/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.{version}", "stand-in\n").WithFile("/usr/bin/nvidia-smi", "#!/bin/sh\n");

    /// <summary>The service before the reboot: 101 attached and in sync; the guardian has seen 550.127.05.</summary>
    private async Task BeforeTheRebootAsync(string policy)
    {
        _lab.GuestDriver(DriverLab.HostVersion, DriverLab.HostVersion);
        using var before = Service(policy);
        var client = before.CreateGpuLxcClient();
        await DriverLab.AttachAsync(client);
        await FirstCheckAsync(client);
    }

    /// <summary>The new module is loaded: its banner, sysfs and modinfo say so; apt in the container offers it.</summary>
    private void Reboot()
    {
        _lab.Host.WithFile("/proc/driver/nvidia/version", $"NVRM version: NVIDIA UNIX x86_64 Kernel Module  {NewVersion}  Tue Jan 14 01:02:03 UTC 2025\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14) \n")
            .WithFile("/sys/module/nvidia/version", $"{NewVersion}\n");
        _lab.Stub("modinfo", $"[ \"$2\" = version ] && echo {NewVersion}; exit 0")
            .Guest("apt-cache", $"cat <<'EOF'\n{Madison}\nEOF")
            .Guest("dpkg-query", $"shift 3; for p in \"$@\"; do echo \"ii |$p|{NewVersion}-0ubuntu0.24.04.1\"; done")
            .Guest("apt-get", $"[ \"$1\" = install ] && printf '%s\\n' {NewVersion} > \"$(dirname \"$0\")/../guest-version\" && printf '%s' libnvidia-ml.so.{NewVersion} > \"$(dirname \"$0\")/../guest-link\"; exit 0");
    }

    /// <summary>A service on the lab's host and the test's data directory, which outlive it (a restart is a second service).</summary>
    private GpuLxcApiFactory Service(string policy)
    {
        var factory = new GpuLxcApiFactory(_lab.Host, ownsHost: false);
        factory.Settings["GpuLxc:DataDir"] = _dataDir;
        factory.Settings["GpuLxc:Guardian:Policy"] = policy;
        return factory;
    }
}
