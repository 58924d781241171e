using System.Net;
using System.Net.Http.Json;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;
using Microsoft.Extensions.DependencyInjection;

namespace GpuLxc.Api.Tests.Nvenc;

/// <summary>In use is summed over holders (each container; the host with the unattributed sessions) of max(leases, sessions).</summary>
public sealed class NvencHolderTests
{
    [Fact]
    public async Task EncodesWithoutALeaseHoldSlotsInEveryContainerAndOnTheHost()
    {
        // 101 runs 2 encodes on 1 lease; 102 holds 2 leases, nothing running yet; the host runs 1 encode and 1 runs
        // where its cgroup cannot be read, on 1 host lease; NVML counts 1 more session than it lists.
        var nvml = new EncoderNvml("520.61.05", EncoderNvml.GeForce(0, "NVIDIA GeForce RTX 3060")).Encoding(0, [1011, 1012, 2001, 3001], unlisted: 1);
        using var factory = Over(Host()
            .WithFile("/proc/1011/cgroup", "0::/lxc/101/ns/system.slice/jellyfin.service\n")
            .WithFile("/proc/1012/cgroup", "0::/lxc/101/ns/system.slice/jellyfin.service\n")
            .WithFile("/proc/2001/cgroup", "0::/system.slice/obs-recorder.service\n"), nvml, limit: 8);
        var client = factory.CreateGpuLxcClient(TestKeys.Sessions);
        await client.AcquireLeaseAsync(new LeaseRequest { Holder = "jellyfin", ContainerId = "101" });
        await client.AcquireLeaseAsync(new LeaseRequest { Holder = "plex", ContainerId = "102" });
        await client.AcquireLeaseAsync(new LeaseRequest { Holder = "plex", ContainerId = "102" });
        await client.AcquireLeaseAsync(new LeaseRequest { Holder = "recorder" });

        var before = Assert.Single((await factory.CreateGpuLxcClient().GetNvencAsync()).Budgets);
        var last = await client.AcquireLeaseAsync(new LeaseRequest { Holder = "plex", ContainerId = "102" });
        var full = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.AcquireLeaseAsync(new LeaseRequest { Holder = "tdarr", ContainerId = "103" }));
        var after = Assert.Single((await factory.CreateGpuLxcClient().GetNvencAsync()).Budgets);

        // 101: max(1, 2) + 102: max(2, 0) + host: max(1, 2) + 1 unlisted = 7; the old max(4 leases, 5 sessions) said 5.
        Assert.Equal((8, 4, 5, 7, 1), (before.Limit, before.Leases, before.Observed, before.InUse, before.Available));
        Assert.Equal("102", last.ContainerId);
        Assert.Equal(429, full.StatusCode);
        Assert.Equal((5, 8, 0), (after.Leases, after.InUse, after.Available));
    }

    [Fact]
    public async Task ALeaseTakenByTheContainerThatRunsTheEncodeCoversIt()
    {
        var nvml = new EncoderNvml("520.61.05", EncoderNvml.GeForce(0, "NVIDIA GeForce RTX 3060")).Encoding(0, [1011]);
        using var factory = Over(Host().WithFile("/proc/1011/cgroup", "0::/lxc/101/ns/system.slice/jellyfin.service\n"), nvml, limit: 2);
        var client = factory.CreateGpuLxcClient(TestKeys.Sessions);

        await client.AcquireLeaseAsync(new LeaseRequest { Holder = "jellyfin", ContainerId = "101" });
        var budget = Assert.Single((await factory.CreateGpuLxcClient().GetNvencAsync()).Budgets);
        await client.AcquireLeaseAsync(new LeaseRequest { Holder = "jellyfin", ContainerId = "101" });
        var full = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.AcquireLeaseAsync(new LeaseRequest { Holder = "plex", ContainerId = "102" }));

        Assert.Equal((1, 1, 1, 1), (budget.Leases, budget.Observed, budget.InUse, budget.Available));
        Assert.Equal(429, full.StatusCode);
    }

    [Fact]
    public async Task WithScopeGpuEachGpuCountsItsOwnHoldersSessionsAndLeases()
    {
        var nvml = new EncoderNvml("520.61.05", EncoderNvml.GeForce(0, "NVIDIA GeForce RTX 3060"), EncoderNvml.GeForce(1, "NVIDIA GeForce RTX 3060"))
            .Encoding(0, [1011, 1012]);
        using var factory = Over(Host()
            .WithFile("/proc/1011/cgroup", "0::/lxc/101/ns/system.slice/jellyfin.service\n")
            .WithFile("/proc/1012/cgroup", "0::/lxc/101/ns/system.slice/jellyfin.service\n"), nvml, limit: 2);
        factory.Settings["GpuLxc:Nvenc:Scope"] = "gpu";
        var client = factory.CreateGpuLxcClient(TestKeys.Sessions);

        var onFirst = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() =>
            client.AcquireLeaseAsync(new LeaseRequest { Holder = "plex", ContainerId = "102", GpuId = EncoderNvml.Address(0) }));
        var onSecond = await client.AcquireLeaseAsync(new LeaseRequest { Holder = "plex", ContainerId = "102", GpuId = EncoderNvml.Address(1) });
        var anywhere = await client.AcquireLeaseAsync(new LeaseRequest { Holder = "plex", ContainerId = "102" });
        var budgets = (await factory.CreateGpuLxcClient().GetNvencAsync()).Budgets.ToDictionary(b => b.Key);

        Assert.Equal(429, onFirst.StatusCode);
        Assert.Equal((EncoderNvml.Address(1), EncoderNvml.Address(1)), (onSecond.Budget, anywhere.Budget));
        Assert.Equal((0, 2, 2, 0), (budgets[EncoderNvml.Address(0)].Leases, budgets[EncoderNvml.Address(0)].Observed, budgets[EncoderNvml.Address(0)].InUse, budgets[EncoderNvml.Address(0)].Available));
        Assert.Equal((2, 0, 2, 0), (budgets[EncoderNvml.Address(1)].Leases, budgets[EncoderNvml.Address(1)].Observed, budgets[EncoderNvml.Address(1)].InUse, budgets[EncoderNvml.Address(1)].Available));
    }

    [Fact]
    public async Task TwoHundredParallelAcquiresBesideUnleasedEncodesNeverFillPastTheLimit()
    {
        // 101 runs 1 encode without a lease; NVML counts 1 more it does not list. Limit 5.
        var nvml = new EncoderNvml("520.61.05", EncoderNvml.GeForce(0, "NVIDIA GeForce RTX 3060")).Encoding(0, [1011], unlisted: 1);
        using var factory = Over(Host().WithFile("/proc/1011/cgroup", "0::/lxc/101/ns/system.slice/jellyfin.service\n"), nvml, limit: 5);
        using var http = factory.CreateKeyedClient(TestKeys.Sessions);
        string?[] containers = ["101", "102", null];

        var responses = await Task.WhenAll(Enumerable.Range(0, 200).Select(i =>
            http.PostAsJsonAsync("/api/v1/nvenc/leases", new { holder = $"transcoder-{i}", containerId = containers[i % 3], ttlSeconds = 60 })));
        var budget = Assert.Single((await factory.CreateGpuLxcClient().GetNvencAsync()).Budgets);

        // A first lease of 101 covers its running encode; every other grant takes a free slot: 3 or 4 grants.
        var granted = responses.Count(r => r.StatusCode == HttpStatusCode.Created);
        Assert.InRange(granted, 3, 4);
        Assert.Equal(200 - granted, responses.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests));
        Assert.Equal((granted, 5, 0), (budget.Leases, budget.InUse, budget.Available));
    }

    /// <summary>A Proxmox VE 8 node whose loaded module is <c>520.61.05</c> (3 consumer sessions, unless overridden).</summary>
    internal static HostTree Host(string driver = "520.61.05") => HostTree.Proxmox()
        .WithFile("/proc/driver/nvidia/version", $"NVRM version: NVIDIA UNIX x86_64 Kernel Module  {driver}  Thu Oct  6 00:00:00 UTC 2022\n")
        .WithFile("/sys/module/nvidia/version", $"{driver}\n");

    /// <summary>The service over <paramref name="host"/> with <paramref name="nvml"/>; <paramref name="limit"/> null keeps the driver table's.</summary>
    internal static GpuLxcApiFactory Over(HostTree host, EncoderNvml nvml, int? limit = null)
    {
        var factory = new GpuLxcApiFactory(host.WithContainers(NvencApiTests.LeaseContainers)) { ConfigureServices = services => services.AddSingleton<GpuLxc.Api.HostAccess.INvml>(nvml) };
        if (limit is { } configured)
        {
            factory.Settings["GpuLxc:Nvenc:LimitOverride"] = configured.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return factory;
    }
}
