using System.Diagnostics;
using IJobExecutor = GpuLxc.Api.Jobs.IJobExecutor;
using GpuLxc.Api.Tests.Drivers;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;
using Microsoft.Extensions.DependencyInjection;

namespace GpuLxc.Api.Tests.Jobs;

/// <summary>
/// A job the service recorded but never handed to a worker (the process was killed in between) does not wait for
/// Hangfire's 5-minute invisibility timeout, blocking its target meanwhile: the next start runs it.
/// </summary>
public sealed class JobRecoveryTests : IDisposable
{
    private readonly DriverLab _lab = new();
    private readonly string _dataDir = Directory.CreateTempSubdirectory("gpulxc-recovery-").FullName;

    public void Dispose()
    {
        _lab.Dispose();
        HostTree.DeleteDirectory(_dataDir);
    }

    [Fact]
    public async Task AJobLeftQueuedByAKilledProcessRunsWithinSecondsOfTheNextStart()
    {
        string jobId;
        using (var killed = Service())
        {
            // The process that dies after recording the job and before any worker took it.
            killed.ConfigureServices = services => services.AddSingleton<IJobExecutor, NeverHandsOver>();
            var accepted = (await killed.CreateGpuLxcClient().InstallHostDriverAsync(new HostDriverInstallRequest())).Result;
            jobId = accepted.Id;
            Assert.Equal(JobState.Queued, (await killed.CreateGpuLxcClient().GetJobAsync(jobId, null)).State);
        }

        var restarted = Stopwatch.StartNew();
        using var next = Service();
        var client = next.CreateGpuLxcClient();
        var job = await client.GetJobAsync(jobId, 10);

        Assert.True(job.State == JobState.Succeeded, $"{job.State} {job.Error?.Message}");
        Assert.True(restarted.Elapsed < TimeSpan.FromSeconds(10), $"{restarted.Elapsed.TotalSeconds:0.0} s");
        Assert.Contains(next.Logs, line => line.Contains($"Job {jobId} was queued when the service stopped", StringComparison.Ordinal));
        // Its target is free again: a new job on it is accepted, not 409.
        Assert.Equal(JobState.Succeeded, (await DriverLab.WaitAsync(client, (await client.InstallHostDriverAsync(new HostDriverInstallRequest())).Result.Id)).State);
    }

    private GpuLxcApiFactory Service()
    {
        var factory = new GpuLxcApiFactory(_lab.Host, ownsHost: false);
        factory.Settings["GpuLxc:DataDir"] = _dataDir;
        return factory;
    }

    private sealed class NeverHandsOver : IJobExecutor
    {
        public void Enqueue(string jobId)
        {
        }
    }
}
