using System.Collections.Concurrent;
using System.Diagnostics;
using Hangfire;
using Hangfire.States;
using Xunit.Abstractions;

namespace GpuLxc.Hangfire.Sqlite.Tests;

/// <summary>
/// Real Hangfire servers on two storage instances sharing one file (as two processes would), eight workers in all,
/// while jobs are being enqueued through both: every job runs exactly once.
/// </summary>
public sealed class SoakTests(ITestOutputHelper output) : IDisposable
{
    private const int Jobs = 20_000;
    private readonly TestStore _store = new();

    public void Dispose() => _store.Dispose();

    [Fact]
    public async Task TwentyThousandJobsOnEightWorkersOverTwoInstancesRunExactlyOnce()
    {
        GlobalConfiguration.Configuration.UseSimpleAssemblyNameTypeSerializer().UseRecommendedSerializerSettings();
        var run = Guid.NewGuid().ToString("N");
        var executions = SoakJob.Track(run);
        var storages = new[]
        {
            _store.Create(o => o.TimeProvider = TimeProvider.System),
            _store.Create(o => o.TimeProvider = TimeProvider.System),
        };
        var servers = storages.Select((storage, i) => new BackgroundJobServer(
            new BackgroundJobServerOptions { WorkerCount = 4, Queues = ["soak"], ServerName = $"soak-{i}" }, storage)).ToList();
        try
        {
            var clock = Stopwatch.StartNew();
            var clients = storages.Select(s => new BackgroundJobClient(s)).ToArray();
            await Task.WhenAll(Enumerable.Range(0, 2).Select(producer => Task.Run(() =>
            {
                for (var n = producer; n < Jobs; n += 2)
                {
                    var job = n;
                    clients[producer].Create(() => SoakJob.Run(run, job), new EnqueuedState("soak"));
                }
            })));
            var enqueued = clock.Elapsed;

            var monitoring = storages[0].GetMonitoringApi();
            var deadline = Stopwatch.StartNew();
            while (monitoring.SucceededListCount() < Jobs && deadline.Elapsed < TimeSpan.FromMinutes(15))
            {
                await Task.Delay(250);
            }

            var finished = clock.Elapsed;
            output.WriteLine($"{Jobs} jobs: enqueued in {enqueued.TotalSeconds:F1} s, all succeeded after {finished.TotalSeconds:F1} s ({Jobs / finished.TotalSeconds:F0} jobs/s end to end)");

            Assert.Equal(Jobs, monitoring.SucceededListCount());
            Assert.Equal(Jobs, executions.Count);
            var duplicates = executions.Where(e => e.Value != 1).Select(e => e.Key).ToList();
            Assert.True(duplicates.Count == 0, $"jobs run more than once: {string.Join(", ", duplicates.Take(20))}");
            Assert.Equal(0, monitoring.FailedCount());
            Assert.Equal(0, _store.Count("SELECT COUNT(*) FROM JobQueue"));
            Assert.Equal(0, _store.Count("SELECT COUNT(*) FROM Job WHERE StateName <> 'Succeeded'"));
        }
        finally
        {
            servers.ForEach(s => s.SendStop());
            servers.ForEach(s => s.Dispose());
            SoakJob.Forget(run);
        }
    }
}

public static class SoakJob
{
    private static readonly ConcurrentDictionary<string, ConcurrentDictionary<int, int>> Runs = new();

    public static ConcurrentDictionary<int, int> Track(string run) => Runs.GetOrAdd(run, _ => new());

    public static void Forget(string run) => Runs.TryRemove(run, out _);

    public static void Run(string run, int n)
    {
        if (Runs.TryGetValue(run, out var executions))
        {
            executions.AddOrUpdate(n, 1, (_, count) => count + 1);
        }
    }
}
