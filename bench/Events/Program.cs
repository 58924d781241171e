using System.Diagnostics;
using System.Globalization;
using GpuLxc.Api.Events;
using GpuLxc.Api.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using EventLog = GpuLxc.Api.Events.EventLog;

// What IEventPublisher.Publish costs its caller, and how soon a published event is stored and readable by the stream,
// with the real event log, writer and gpulxc.db (WAL) in a temporary data directory. A webhook to a closed port is
// configured in the second half, to show that a dead receiver changes neither figure.
// Usage: dotnet run -c Release --project bench/Events [-- events]
var events = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 100_000;
Console.WriteLine($"{Environment.ProcessorCount} cores; {events} events per run");
await RunAsync(events, webhook: false);
await RunAsync(events, webhook: true);

static async Task RunAsync(int events, bool webhook)
{
    var directory = Directory.CreateTempSubdirectory("gpulxc-bench-events-").FullName;
    var settings = new Dictionary<string, string?>();
    if (webhook)
    {
        settings["GpuLxc:Webhooks:down:Url"] = "http://127.0.0.1:9/hook";
        settings["GpuLxc:Webhooks:down:Secret"] = "bench-secret-0123456789";
    }

    var services = new ServiceCollection()
        .AddLogging()
        .AddMetrics()
        .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build())
        .AddSingleton(TimeProvider.System)
        .AddSingleton(new DataDirectory(directory))
        .AddSingleton<GpuLxcDatabase>()
        .AddEvents();
    await using var provider = services.BuildServiceProvider();
    var hosted = provider.GetServices<IHostedService>().ToList();
    foreach (var service in hosted)
    {
        await service.StartAsync(CancellationToken.None);
    }

    try
    {
        var log = provider.GetRequiredService<EventLog>();
        var publisher = provider.GetRequiredService<IEventPublisher>();
        publisher.Publish(EventTypes.KernelStaged, new { Kernel = "warm-up" });

        // Cost to the caller: each Publish timed on its own, in a burst, while the writer stores concurrently.
        var costs = new double[events];
        for (var i = 0; i < events; i++)
        {
            var start = Stopwatch.GetTimestamp();
            publisher.Publish(EventTypes.JobStateChanged, new { JobId = i.ToString(CultureInfo.InvariantCulture), Kind = "driverResync", Target = "host", State = "running" });
            costs[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }

        var burst = Stopwatch.StartNew();
        await log.CommittedAfter(log.LastPublishedId - 1);
        var drained = burst.Elapsed;
        Array.Sort(costs);

        // Publish → readable: one event at a time into an idle log, as a watcher publishes.
        var latencies = new List<double>();
        for (var i = 0; i < 500; i++)
        {
            var start = Stopwatch.GetTimestamp();
            var published = publisher.Publish(EventTypes.DriverChanged, new { Previous = "550.127.05", Current = "550.135" });
            await log.CommittedAfter(published.Id - 1);
            latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            await Task.Delay(2);
        }

        latencies.Sort();
        Console.WriteLine(
            $"{(webhook ? "with a dead webhook" : "no webhook"),-20} Publish: p50 {Percentile(costs, 50):F2} µs, p99 {Percentile(costs, 99):F2} µs, max {costs[^1]:F0} µs; " +
            $"burst stored {drained.TotalMilliseconds:F0} ms after the last Publish; publish → readable: p50 {Percentile([.. latencies], 50):F2} ms, " +
            $"p99 {Percentile([.. latencies], 99):F2} ms; lost {log.Lost}");
    }
    finally
    {
        foreach (var service in hosted.AsEnumerable().Reverse())
        {
            await service.StopAsync(CancellationToken.None);
        }

        Directory.Delete(directory, recursive: true);
    }
}

static double Percentile(double[] sorted, int percent) => sorted[Math.Min(sorted.Length - 1, sorted.Length * percent / 100)];
