using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;
using Microsoft.Extensions.DependencyInjection;
using NvmlTotals = GpuLxc.Api.HostAccess.NvmlTotals;

namespace GpuLxc.Api.Tests.Usage;

/// <summary>
/// A Proxmox node whose RTX 3060 runs processes in containers 101 and 102, on the host, in a plain-LXC-named
/// cgroup, and one that ended between NVML's list and the read of its cgroup; the clock stands still unless a test
/// moves it, so every reader shares one sweep until then.
/// </summary>
public sealed class GpuUsageTests
{
    private const long GiB = 1L << 30;
    private const long MiB = 1L << 20;
    private static readonly string Gpu = EncoderNvml.Address(0);

    [Fact]
    public async Task EachProcessIsAttributedToItsContainerTheHostOrAsExited()
    {
        var (factory, _, _) = Lab();
        using var _factory = factory;
        var client = factory.CreateGpuLxcClient(TestKeys.Read);

        var gpu = await client.ListGpuProcessesAsync("0", refresh: null);

        Assert.Equal((0, Gpu), (gpu.Index, gpu.PciAddress));
        Assert.Equal(
            [
                (1011, ProcessOwnerKind.Container, "101", (long?)GiB, (int?)40, 1),
                (1012, ProcessOwnerKind.Container, "101", 512 * MiB, 10, 0),
                (2001, ProcessOwnerKind.Container, "102", 256 * MiB, 0, 0),
                (3001, ProcessOwnerKind.Container, "frigate", 128 * MiB, 0, 0),
                (4001, ProcessOwnerKind.Host, null, 64 * MiB, 5, 0),
                (5001, ProcessOwnerKind.Exited, null, 32 * MiB, 0, 0),
                (6001, ProcessOwnerKind.Unknown, null, 16 * MiB, 0, 0),
            ],
            gpu.Processes.Select(p => (p.Pid, p.Owner, p.ContainerId, p.UsedMemoryBytes, p.SmPercent, p.EncoderSessions)).ToList());
        Assert.Equal((80L * GiB, 2L * GiB, 55, 61, 312_500), (gpu.Totals.MemoryTotalBytes, gpu.Totals.MemoryUsedBytes, gpu.Totals.UtilizationPercent, gpu.Totals.TemperatureCelsius, gpu.Totals.PowerMilliwatts));
    }

    [Fact]
    public async Task AContainersUsageSumsItsOwnProcessesOnly()
    {
        var (factory, _, _) = Lab();
        using var _factory = factory;
        var client = factory.CreateGpuLxcClient(TestKeys.Read);

        var jellyfin = await client.GetContainerGpuUsageAsync("101");
        var idle = await client.GetContainerGpuUsageAsync("102");

        var share = Assert.Single(jellyfin.Gpus);
        Assert.Equal(("101", GiB + (512 * MiB), 1), (jellyfin.ContainerId, jellyfin.UsedMemoryBytes, jellyfin.EncoderSessions));
        Assert.Equal((Gpu, 50, 20, 0, 2), (share.PciAddress, share.SmPercent, share.EncoderPercent, share.DecoderPercent, share.Processes.Count));
        Assert.Equal(256 * MiB, idle.UsedMemoryBytes);
        Assert.Equal(jellyfin.SampledAt, idle.SampledAt);
    }

    [Fact]
    public async Task AContainerThatDoesNotExistIsNotFoundAndABadIdIsRefused()
    {
        var (factory, _, _) = Lab();
        using var _factory = factory;
        var client = factory.CreateGpuLxcClient(TestKeys.Read);

        var missing = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.GetContainerGpuUsageAsync("999"));
        var malformed = await Assert.ThrowsAsync<GpuLxcApiException<HttpValidationProblemDetails>>(() => client.GetContainerGpuUsageAsync("-1"));
        var noGpu = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.ListGpuProcessesAsync("7", refresh: null));

        Assert.Equal((404, 400, 404), (missing.StatusCode, malformed.StatusCode, noGpu.StatusCode));
    }

    [Fact]
    public async Task MetricsGiveEachContainersShareAndTheGpuTotalsWithoutPidLabels()
    {
        var (factory, nvml, clock) = Lab();
        using var _factory = factory;
        using var reader = factory.CreateKeyedClient(TestKeys.Read);

        var text = await reader.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        nvml.Encoding(0, []).Running(0, [new NvmlProcess(2001, Compute: true, Graphics: false, 256 * MiB)], [], Totals());
        clock.Advance(TimeSpan.FromSeconds(1));
        var after = await reader.GetStringAsync(new Uri("/metrics", UriKind.Relative));

        Assert.Contains($"gpulxc_container_gpu_memory_bytes{{container=\"101\",gpu=\"{Gpu}\"}} {GiB + (512 * MiB)}", text, StringComparison.Ordinal);
        Assert.Contains($"gpulxc_container_gpu_memory_bytes{{container=\"frigate\",gpu=\"{Gpu}\"}} {128 * MiB}", text, StringComparison.Ordinal);
        Assert.Contains($"gpulxc_container_gpu_sm_utilization{{container=\"101\",gpu=\"{Gpu}\"}} 50", text, StringComparison.Ordinal);
        Assert.Contains($"gpulxc_container_gpu_encoder_sessions{{container=\"101\",gpu=\"{Gpu}\"}} 1", text, StringComparison.Ordinal);
        Assert.Contains($"gpulxc_gpu_unattributed_memory_bytes{{gpu=\"{Gpu}\",owner=\"host\"}} {64 * MiB}", text, StringComparison.Ordinal);
        Assert.Contains($"gpulxc_gpu_memory_total_bytes{{gpu=\"{Gpu}\"}} {80 * GiB}", text, StringComparison.Ordinal);
        Assert.Contains($"gpulxc_gpu_temperature_celsius{{gpu=\"{Gpu}\"}} 61", text, StringComparison.Ordinal);
        Assert.Contains($"gpulxc_gpu_power_watts{{gpu=\"{Gpu}\"}} 312.5", text, StringComparison.Ordinal);
        Assert.Contains($"gpulxc_gpu_clock_mhz{{gpu=\"{Gpu}\",clock=\"sm\"}} 1980", text, StringComparison.Ordinal);
        Assert.DoesNotContain("pid=", text, StringComparison.Ordinal);
        Assert.DoesNotContain("container=\"101\"", after, StringComparison.Ordinal);
        Assert.Contains($"gpulxc_container_gpu_memory_bytes{{container=\"102\",gpu=\"{Gpu}\"}} {256 * MiB}", after, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheScrapeTheApiAndTheNvencGuardShareOneSweep()
    {
        var (factory, nvml, clock) = Lab();
        using var _factory = factory;
        var client = factory.CreateGpuLxcClient(TestKeys.Admin);
        using var reader = factory.CreateKeyedClient(TestKeys.Read);

        async Task ReadEverythingAsync()
        {
            await reader.GetStringAsync(new Uri("/metrics", UriKind.Relative));
            await client.GetNvencAsync();
            await client.AcquireLeaseAsync(new LeaseRequest { Holder = "jellyfin", ContainerId = "101" });
            await client.ListGpusAsync(refresh: null);
            await client.ListGpuProcessesAsync(Gpu, refresh: null);
            await client.GetContainerGpuUsageAsync("101");
            await reader.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        }

        await ReadEverythingAsync();
        var first = nvml.Sweeps;
        clock.Advance(NvmlSweep.MaxAge);
        await ReadEverythingAsync();

        Assert.Equal((1, 2), (first, nvml.Sweeps));
    }

    /// <summary>The node, its NVML and its clock; see the class summary for who runs what.</summary>
    private static (GpuLxcApiFactory Factory, EncoderNvml Nvml, ManualTimeProvider Clock) Lab()
    {
        var host = ContainerHosts.Pve8()
            .WithFile("/proc/1011/cgroup", "0::/lxc/101/ns/system.slice/jellyfin.service\n")
            .WithFile("/proc/1012/cgroup", "0::/lxc/101/ns/system.slice/jellyfin.service\n")
            .WithFile("/proc/2001/cgroup", "0::/lxc/102/ns/init.scope\n")
            .WithFile("/proc/3001/cgroup", "0::/lxc.payload.frigate/system.slice/frigate.service\n")
            .WithFile("/proc/4001/cgroup", "0::/system.slice/ollama.service\n")
            .WithDirectory("/proc/6001");
        var nvml = new EncoderNvml("550.120", EncoderNvml.GeForce(0, "NVIDIA GeForce RTX 3060"))
            .Encoding(0, [1011])
            .Running(0,
            [
                new NvmlProcess(1011, Compute: true, Graphics: false, GiB),
                new NvmlProcess(1012, Compute: true, Graphics: true, 512 * MiB),
                new NvmlProcess(2001, Compute: true, Graphics: false, 256 * MiB),
                new NvmlProcess(3001, Compute: true, Graphics: false, 128 * MiB),
                new NvmlProcess(4001, Compute: false, Graphics: true, 64 * MiB),
                new NvmlProcess(5001, Compute: true, Graphics: false, 32 * MiB),
                new NvmlProcess(6001, Compute: true, Graphics: false, 16 * MiB),
            ],
            [new NvmlProcessUtilization(1011, 40, 20, 20, 0), new NvmlProcessUtilization(1012, 10, 5, 0, 0), new NvmlProcessUtilization(4001, 5, 1, 0, 0)],
            Totals());
        var clock = new ManualTimeProvider();
        var factory = new GpuLxcApiFactory(host)
        {
            ConfigureServices = services =>
            {
                services.AddSingleton<INvml>(nvml);
                services.AddSingleton<TimeProvider>(clock);
            },
        };
        return (factory, nvml, clock);
    }

    private static NvmlTotals Totals() => new(80 * GiB, 2 * GiB, 55, 30, 20, 0, 61, 312_500, 1755, 1980, 2619, 1650);
}
