using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using GpuLxc.Bench.JobStorage;
using GpuLxc.Hangfire.Sqlite;
using Hangfire;
using Hangfire.States;

// Enqueue → start latency and throughput of Hangfire on the SQLite job storage, with real BackgroundJobServers.
// Usage: dotnet run -c Release --project bench/JobStorage [-- samples jobs workers]
var samples = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 500;
var jobs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20_000;
var workers = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 8;

Hangfire.Logging.LogProvider.SetCurrentLogProvider(null);
GlobalConfiguration.Configuration.UseSimpleAssemblyNameTypeSerializer().UseRecommendedSerializerSettings();
var directory = Directory.CreateTempSubdirectory("gpulxc-bench-jobs-").FullName;
try
{
    var storage = new SqliteStorage(Path.Join(directory, "jobs.db"));
    var client = new BackgroundJobClient(storage);
    Console.WriteLine($"{Environment.ProcessorCount} cores; SQLite job storage in {directory}; {workers} workers");

    using (new BackgroundJobServer(new BackgroundJobServerOptions { WorkerCount = workers, Queues = ["bench"] }, storage))
    {
        // Latency: one job at a time into an idle server, as the API enqueues an install and waits for it to start.
        var latencies = new List<double>(samples);
        for (var i = 0; i < samples + 20; i++)
        {
            var done = BenchJobs.Expect(1);
            var enqueued = Stopwatch.GetTimestamp();
            client.Create(() => BenchJobs.Started(enqueued), new EnqueuedState("bench"));
            await done.WaitAsync(TimeSpan.FromSeconds(60));
            if (i >= 20)
            {
                latencies.Add(BenchJobs.LastLatency.TotalMilliseconds);
            }

            await Task.Delay(5);
        }

        latencies.Sort();
        Console.WriteLine(
            $"enqueue → start latency over {samples} jobs: p50 {Percentile(latencies, 50):F2} ms, p95 {Percentile(latencies, 95):F2} ms, " +
            $"p99 {Percentile(latencies, 99):F2} ms, max {latencies[^1]:F2} ms");

        // Throughput: two producers enqueue while the workers drain.
        var all = BenchJobs.Expect(jobs);
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 2).Select(p => Task.Run(() =>
        {
            for (var n = p; n < jobs; n += 2)
            {
                client.Create(() => BenchJobs.Started(0), new EnqueuedState("bench"));
            }
        })));
        var enqueueSeconds = clock.Elapsed.TotalSeconds;
        await all.WaitAsync(TimeSpan.FromMinutes(30));
        var total = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"{jobs} jobs with producers and workers at once: enqueued at {jobs / enqueueSeconds:F0} jobs/s, all run after {total:F1} s = {jobs / total:F0} jobs/s");
    }

    // Drain: a backlog enqueued with no server running, then processed.
    var backlog = BenchJobs.Expect(jobs);
    var enqueueClock = Stopwatch.StartNew();
    for (var n = 0; n < jobs; n++)
    {
        client.Create(() => BenchJobs.Started(0), new EnqueuedState("bench"));
    }

    var enqueueOnly = enqueueClock.Elapsed.TotalSeconds;
    var drainClock = Stopwatch.StartNew();
    using (new BackgroundJobServer(new BackgroundJobServerOptions { WorkerCount = workers, Queues = ["bench"] }, storage))
    {
        await backlog.WaitAsync(TimeSpan.FromMinutes(30));
    }

    Console.WriteLine($"backlog of {jobs}: enqueued alone at {jobs / enqueueOnly:F0} jobs/s, drained at {jobs / drainClock.Elapsed.TotalSeconds:F0} jobs/s");
    Console.WriteLine($"database file: {new FileInfo(storage.DatabasePath).Length / 1024 / 1024} MiB + WAL {new FileInfo(storage.DatabasePath + "-wal").Length / 1024 / 1024} MiB");
}
finally
{
    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    Directory.Delete(directory, recursive: true);
}

static double Percentile(List<double> sorted, int percentile) =>
    sorted[Math.Clamp((int)Math.Ceiling(percentile / 100.0 * sorted.Count) - 1, 0, sorted.Count - 1)];
