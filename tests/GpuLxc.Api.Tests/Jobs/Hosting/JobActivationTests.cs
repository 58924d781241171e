using System.Collections.Concurrent;
using System.Diagnostics;
using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.Tests.Support;
using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using Microsoft.Extensions.DependencyInjection;

namespace GpuLxc.Api.Tests.Jobs.Hosting;

/// <summary>
/// Hangfire keeps its configuration in statics; the service must not. With two services in one process, each
/// one's jobs are activated from its own container, whichever started last.
/// </summary>
public sealed class JobActivationTests
{
    [Fact]
    public async Task EachServiceInAProcessRunsItsJobsWithItsOwnServices()
    {
        // Started at once, as parallel tests start them: each job server must keep its own host's activator.
        var factories = Enumerable.Range(0, 6).Select(_ => new GpuLxcApiFactory()).ToList();
        try
        {
            await Task.WhenAll(factories.Select(f => Task.Run(() => f.CreateClient().Dispose())));
            await RunOneJobEach(factories);
        }
        finally
        {
            factories.ForEach(f => f.Dispose());
        }
    }

    private static async Task RunOneJobEach(List<GpuLxcApiFactory> factories)
    {
        var markers = new List<(string Marker, string DataDir)>();
        foreach (var factory in factories)
        {
            var marker = Guid.NewGuid().ToString("N");
            markers.Add((marker, factory.Services.GetRequiredService<DataDirectory>().Path));
            new BackgroundJobClient(factory.Services.GetRequiredService<JobStorage>())
                .Create(Job.FromExpression<ActivationProbe>(probe => probe.Record(marker)), new EnqueuedState("default"));
        }

        var deadline = Stopwatch.StartNew();
        while (markers.Any(m => !ActivationProbe.Activated.ContainsKey(m.Marker)) && deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(50);
        }

        foreach (var (marker, dataDir) in markers)
        {
            Assert.True(ActivationProbe.Activated.TryGetValue(marker, out var activatedBy), $"{marker} never ran");
            Assert.Equal(dataDir, activatedBy);
        }
    }
}

/// <summary>A job that records whose container built it.</summary>
public sealed class ActivationProbe(DataDirectory dataDirectory)
{
    public static ConcurrentDictionary<string, string> Activated { get; } = new();

    public void Record(string marker) => Activated[marker] = dataDirectory.Path;
}
