using System.Diagnostics;
using System.Globalization;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Usage;
using GpuLxc.Bench.Scrape;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

// GET /metrics with GPU processes from a fake NVML (two GPUs), each attributed through its /proc/<pid>/cgroup in a
// prepared host tree: 40 % in container 101 (Proxmox path), 40 % in frigate (plain LXC path), 20 % on the host.
// "fresh": the clock moves past the sweep's 0.5 s before every scrape, so each scrape sweeps NVML and reads every
// cgroup; "shared": scrapes inside one sweep's lifetime. In-memory server (TestServer): the service's own work.
// CPU per scrape is the process's CPU time over the scrapes (every thread, background services included): on a
// loaded machine it says more than wall time.
// Usage: dotnet run -c Release --project bench/Scrape [-- processes scrapes]
var processes = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 50;
var scrapes = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1000;
const string Key = "bench-read-key-0123456789abcdef";

var root = Directory.CreateTempSubdirectory("gpulxc-bench-scrape-").FullName;
var data = Directory.CreateTempSubdirectory("gpulxc-bench-scrape-data-").FullName;
try
{
    for (var i = 0; i < processes; i++)
    {
        var proc = Path.Join(root, "proc", (BenchNvml.FirstPid + i).ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(proc);
        await File.WriteAllTextAsync(Path.Join(proc, "cgroup"), (i % 5) switch
        {
            0 or 1 => "0::/lxc/101/ns/system.slice/ollama.service\n",
            2 or 3 => "0::/lxc.payload.frigate/system.slice/frigate.service\n",
            _ => "0::/system.slice/transcode.service\n",
        });
    }

    var nvml = new BenchNvml(processes);
    var clock = new SteppingClock();
    using var factory = new WebApplicationFactory<GpuUsageReader>().WithWebHostBuilder(builder =>
    {
        builder.UseSetting("GpuLxc:Host:Root", root);
        builder.UseSetting("GpuLxc:Host:Backend", "none");
        builder.UseSetting("GpuLxc:DataDir", data);
        builder.UseSetting("GpuLxc:Auth:ApiKeys:bench:Key", Key);
        builder.UseSetting("GpuLxc:Auth:ApiKeys:bench:Scopes", "read");
        builder.UseSetting("Logging:LogLevel:Default", "Warning");
        builder.ConfigureTestServices(services =>
        {
            services.AddSingleton<INvml>(nvml);
            services.AddSingleton<TimeProvider>(clock);
        });
    });
    using var http = factory.CreateClient();
    http.DefaultRequestHeaders.Add("X-Api-Key", Key);

    var sample = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
    var series = sample.Split('\n').Count(l => l.StartsWith("gpulxc_container_gpu_", StringComparison.Ordinal));
    Console.WriteLine($"{Environment.ProcessorCount} cores; {processes} GPU processes on 2 GPUs; {sample.Length} bytes a scrape, " +
                      $"{series} per-container series");

    async Task<(List<double> Times, double CpuMs)> RunAsync(bool fresh)
    {
        var times = new List<double>(scrapes);
        var cpu = TimeSpan.Zero;
        for (var i = 0; i < scrapes + 100; i++)
        {
            if (fresh)
            {
                clock.Advance(NvmlSweep.MaxAge);
            }

            var cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
            var start = Stopwatch.GetTimestamp();
            using var response = await http.GetAsync(new Uri("/metrics", UriKind.Relative), HttpCompletionOption.ResponseContentRead);
            response.EnsureSuccessStatusCode();
            if (i >= 100)
            {
                times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                cpu += Process.GetCurrentProcess().TotalProcessorTime - cpuStart;
            }
        }

        times.Sort();
        return (times, cpu.TotalMilliseconds / scrapes);
    }

    foreach (var fresh in new[] { true, false })
    {
        var before = nvml.Sweeps;
        var (times, cpuMs) = await RunAsync(fresh);
        Console.WriteLine(
            $"{(fresh ? "fresh " : "shared")} /metrics over {scrapes} scrapes: p50 {Percentile(times, 50):F2} ms, p95 {Percentile(times, 95):F2} ms, " +
            $"p99 {Percentile(times, 99):F2} ms, max {times[^1]:F2} ms; CPU {cpuMs:F2} ms a scrape (all threads); NVML sweeps {nvml.Sweeps - before}");
    }
}
finally
{
    Directory.Delete(root, recursive: true);
    Directory.Delete(data, recursive: true);
}

static double Percentile(List<double> sorted, int percent) => sorted[Math.Min(sorted.Count - 1, sorted.Count * percent / 100)];

/// <summary>The system clock plus what the bench has moved it by.</summary>
internal sealed class SteppingClock : TimeProvider
{
    private long _offsetTicks;

    public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));

    public void Advance(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);
}
