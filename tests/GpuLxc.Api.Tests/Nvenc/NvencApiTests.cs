using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GpuLxc.Api.Tests.Infrastructure;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace GpuLxc.Api.Tests.Nvenc;

public sealed class NvencApiTests
{
    [Fact]
    public async Task TwoHundredParallelAcquiresAtLimitThreeGrantExactlyThree()
    {
        using var factory = Guarded(limit: 3);
        using var http = factory.CreateKeyedClient(TestKeys.Sessions);

        var responses = await Task.WhenAll(Enumerable.Range(0, 200).Select(i =>
            http.PostAsJsonAsync("/api/v1/nvenc/leases", new { holder = $"transcoder-{i}", ttlSeconds = 60 })));

        Assert.Equal(3, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        Assert.Equal(197, responses.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests));
        var refused = responses.First(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.InRange(refused.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 60);
        var status = await factory.CreateGpuLxcClient().GetNvencAsync();
        var budget = Assert.Single(status.Budgets);
        Assert.Equal((3, 3, 0, 3), (budget.Leases, budget.InUse, budget.Available, budget.PeakLeases));
    }

    [Fact]
    public async Task WaitersAreGrantedInTheOrderTheyCameAsSlotsAreReleased()
    {
        using var factory = Guarded(limit: 3);
        var client = new GpuLxcClient(factory.CreateKeyedClient(TestKeys.Sessions));
        var held = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            held.Add((await client.AcquireLeaseAsync(new LeaseRequest { Holder = $"first-{i}", TtlSeconds = 600 })).Id);
        }

        var waiters = new List<Task<Lease>>();
        for (var i = 0; i < 6; i++)
        {
            waiters.Add(client.AcquireLeaseAsync(new LeaseRequest { Holder = $"waiter-{i}", TtlSeconds = 600, WaitSeconds = 60 }));
            await Task.Delay(100);
        }

        // One slot at a time: each release must go to the longest-waiting request, and to it alone.
        var order = new List<string>();
        var releasable = new Queue<string>(held);
        while (waiters.Count > 0)
        {
            await client.ReleaseLeaseAsync(releasable.Dequeue());
            var next = await Task.WhenAny(waiters);
            waiters.Remove(next);
            var lease = await next;
            order.Add(lease.Holder);
            await Task.Delay(50);
            Assert.DoesNotContain(waiters, w => w.IsCompleted);
            releasable.Enqueue(lease.Id);
        }

        Assert.Equal(["waiter-0", "waiter-1", "waiter-2", "waiter-3", "waiter-4", "waiter-5"], order);
    }

    [Fact]
    public async Task ANewcomerDoesNotJumpAheadOfWaiters()
    {
        using var factory = Guarded(limit: 1);
        var client = new GpuLxcClient(factory.CreateKeyedClient(TestKeys.Sessions));
        var first = await client.AcquireLeaseAsync(new LeaseRequest { Holder = "first" });
        var waiter = client.AcquireLeaseAsync(new LeaseRequest { Holder = "patient", WaitSeconds = 30 });
        await Task.Delay(200);

        var error = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.AcquireLeaseAsync(new LeaseRequest { Holder = "rude" }));
        await client.ReleaseLeaseAsync(first.Id);

        Assert.Equal(429, error.StatusCode);
        Assert.Equal("patient", (await waiter).Holder);
    }

    [Fact]
    public async Task AWaitThatEndsWithoutASlotIsTooManyRequests()
    {
        using var factory = Guarded(limit: 1);
        var client = new GpuLxcClient(factory.CreateKeyedClient(TestKeys.Sessions));
        await client.AcquireLeaseAsync(new LeaseRequest { Holder = "first" });

        var started = DateTime.UtcNow;
        var error = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.AcquireLeaseAsync(new LeaseRequest { Holder = "second", WaitSeconds = 1 }));

        Assert.Equal(429, error.StatusCode);
        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromSeconds(0.9));
    }

    [Fact]
    public async Task LeasesExpireUnlessRenewedAndTheirSlotsAreReclaimed()
    {
        var clock = new ManualTimeProvider();
        using var factory = Guarded(limit: 1, clock);
        var client = new GpuLxcClient(factory.CreateKeyedClient(TestKeys.Sessions));
        var renewed = await client.AcquireLeaseAsync(new LeaseRequest { Holder = "renewed", TtlSeconds = 30 });

        clock.Advance(TimeSpan.FromSeconds(20));
        var extended = await client.RenewLeaseAsync(renewed.Id, new RenewRequest { TtlSeconds = 30 });
        clock.Advance(TimeSpan.FromSeconds(20));
        var stillHeld = await client.GetLeaseAsync(renewed.Id);
        var refused = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.AcquireLeaseAsync(new LeaseRequest { Holder = "next" }));
        clock.Advance(TimeSpan.FromSeconds(11));
        var gone = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.GetLeaseAsync(renewed.Id));
        var next = await client.AcquireLeaseAsync(new LeaseRequest { Holder = "next" });

        Assert.Equal(renewed.CreatedAt.AddSeconds(50), extended.ExpiresAt);
        Assert.Equal(renewed.Id, stillHeld.Id);
        Assert.Equal(429, refused.StatusCode);
        Assert.Equal(404, gone.StatusCode);
        Assert.Equal("next", next.Holder);
    }

    [Fact]
    public async Task LeasesSurviveARestartAndExpiredOnesAreReclaimedAfterIt()
    {
        var clock = new ManualTimeProvider();
        using var tree = new HostTree();
        string dataDir;
        string kept, lapsed;
        // The seed host runs one encode without a lease: it holds the third slot throughout.
        using (var first = Guarded(limit: 3, clock, HostFixtures.Seed()))
        {
            var client = new GpuLxcClient(first.CreateKeyedClient(TestKeys.Sessions));
            kept = (await client.AcquireLeaseAsync(new LeaseRequest { Holder = "kept", TtlSeconds = 600 })).Id;
            lapsed = (await client.AcquireLeaseAsync(new LeaseRequest { Holder = "lapsed", TtlSeconds = 10 })).Id;
            dataDir = first.DataDir;
            File.Copy(Path.Join(dataDir, "gpulxc.db"), Path.Join(tree.Root, "gpulxc.db"));
            foreach (var wal in Directory.GetFiles(dataDir, "gpulxc.db-*"))
            {
                File.Copy(wal, Path.Join(tree.Root, Path.GetFileName(wal)));
            }
        }

        clock.Advance(TimeSpan.FromSeconds(30));
        using var second = Guarded(limit: 3, clock, HostFixtures.Seed());
        second.Settings["GpuLxc:DataDir"] = tree.Root;
        var restarted = new GpuLxcClient(second.CreateKeyedClient(TestKeys.Sessions));

        var survivor = await restarted.GetLeaseAsync(kept);
        var expired = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => restarted.GetLeaseAsync(lapsed));
        var granted = await restarted.AcquireLeaseAsync(new LeaseRequest { Holder = "after-restart" });
        var full = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => restarted.AcquireLeaseAsync(new LeaseRequest { Holder = "one-too-many" }));

        Assert.Equal("kept", survivor.Holder);
        Assert.Equal(404, expired.StatusCode);
        Assert.Equal("after-restart", granted.Holder);
        Assert.Equal(429, full.StatusCode);
    }

    [Fact]
    public async Task SessionsTheDriverReportsCountEvenWithoutLeases()
    {
        // The seed host's nvidia-smi reports one running encode session, as a count: no lease can be said to cover it.
        using var factory = Guarded(limit: 3, host: HostFixtures.Seed());
        var client = new GpuLxcClient(factory.CreateKeyedClient(TestKeys.Sessions));

        await client.AcquireLeaseAsync(new LeaseRequest { Holder = "a" });
        var budget = Assert.Single((await factory.CreateGpuLxcClient().GetNvencAsync()).Budgets);
        await client.AcquireLeaseAsync(new LeaseRequest { Holder = "b" });
        var error = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.AcquireLeaseAsync(new LeaseRequest { Holder = "c" }));

        Assert.Equal((1, 1, 2, 1), (budget.Leases, budget.Observed, budget.InUse, budget.Available));
        Assert.Equal(429, error.StatusCode);
    }

    [Fact]
    public async Task TheObservedSessionsCountTowardsTheBudget()
    {
        using var factory = Guarded(limit: 1, host: HostFixtures.Seed());
        var client = new GpuLxcClient(factory.CreateKeyedClient(TestKeys.Sessions));

        var error = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.AcquireLeaseAsync(new LeaseRequest { Holder = "a" }));

        Assert.Equal(429, error.StatusCode);
        Assert.Contains("1 observed running", error.Result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ALeaseForAContainerTheHostDoesNotHaveIsRefusedAndHoldsNoSlot()
    {
        using var factory = Guarded(limit: 5);
        var client = new GpuLxcClient(factory.CreateKeyedClient(TestKeys.Sessions));

        var refused = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.AcquireLeaseAsync(new LeaseRequest { Holder = "ghost", ContainerId = "999" }));
        var status = await factory.CreateGpuLxcClient().GetNvencAsync();

        Assert.Equal(409, refused.StatusCode);
        Assert.Equal("urn:gpulxc:problem:lease-for-unknown-container", refused.Result.Type);
        Assert.Contains("/etc/pve/lxc/999.conf", refused.Result.Detail, StringComparison.Ordinal);
        Assert.Empty(status.Leases);
    }

    [Fact]
    public async Task APerContainerQuotaCapsThatContainersLeases()
    {
        using var factory = Guarded(limit: 5);
        factory.Settings["GpuLxc:Nvenc:Quotas:101"] = "1";
        var client = new GpuLxcClient(factory.CreateKeyedClient(TestKeys.Sessions));

        await client.AcquireLeaseAsync(new LeaseRequest { Holder = "jellyfin", ContainerId = "101" });
        var error = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.AcquireLeaseAsync(new LeaseRequest { Holder = "jellyfin-2", ContainerId = "101" }));
        var other = await client.AcquireLeaseAsync(new LeaseRequest { Holder = "plex", ContainerId = "102" });

        Assert.Equal(429, error.StatusCode);
        Assert.Contains("quota of 1", error.Result.Detail, StringComparison.Ordinal);
        Assert.Contains("101", error.Result.Detail, StringComparison.Ordinal);
        Assert.Equal("102", other.ContainerId);
    }

    [Fact]
    public async Task OnlyTheKeyThatAcquiredALeaseOrAnAdminMayRenewOrReleaseIt()
    {
        using var factory = Guarded(limit: 3);
        var jellyfin = factory.CreateGpuLxcClient(TestKeys.Sessions);
        var other = factory.CreateGpuLxcClient(TestKeys.ReadAndSessions);
        var lease = await jellyfin.AcquireLeaseAsync(new LeaseRequest { Holder = "jellyfin" });

        var renew = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => other.RenewLeaseAsync(lease.Id, new RenewRequest()));
        var release = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => other.ReleaseLeaseAsync(lease.Id));
        await jellyfin.RenewLeaseAsync(lease.Id, new RenewRequest { TtlSeconds = 120 });
        await factory.CreateGpuLxcClient(TestKeys.Admin).ReleaseLeaseAsync(lease.Id);

        Assert.Equal((403, 403), (renew.StatusCode, release.StatusCode));
        Assert.Equal("transcoder", lease.Owner);
        Assert.Empty((await factory.CreateGpuLxcClient().GetNvencAsync()).Leases);
    }

    [Fact]
    public async Task AWaiterHeldBackByItsContainersQuotaDoesNotHoldUpTheLine()
    {
        using var factory = Guarded(limit: 5);
        factory.Settings["GpuLxc:Nvenc:Quotas:101"] = "1";
        var client = new GpuLxcClient(factory.CreateKeyedClient(TestKeys.Sessions));
        await client.AcquireLeaseAsync(new LeaseRequest { Holder = "jellyfin", ContainerId = "101" });

        var started = DateTime.UtcNow;
        var refused = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() =>
            client.AcquireLeaseAsync(new LeaseRequest { Holder = "jellyfin-2", ContainerId = "101", WaitSeconds = 60 }));
        var plex = await client.AcquireLeaseAsync(new LeaseRequest { Holder = "plex", ContainerId = "102" });

        Assert.Equal(429, refused.StatusCode);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10));
        Assert.Equal("plex", plex.Holder);
    }

    [Theory]
    [InlineData("0")]
    [InlineData(HostFixtures.SeedUuid)]
    [InlineData("03:00.0")]
    public async Task WithScopeGpuALeaseNamesItsGpuByAnyOfItsIds(string gpuId)
    {
        using var factory = Guarded(limit: 2);
        factory.Settings["GpuLxc:Nvenc:Scope"] = "gpu";

        var lease = await factory.CreateGpuLxcClient(TestKeys.Sessions).AcquireLeaseAsync(new LeaseRequest { Holder = "ffmpeg", GpuId = gpuId });

        Assert.Equal(("0000:03:00.0", "0000:03:00.0"), (lease.Budget, lease.Gpu));
    }

    [Fact]
    public async Task AHostWithoutAnEncoderRefusesLeases()
    {
        using var factory = new GpuLxcApiFactory(HostFixtures.H100());

        var error = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() =>
            factory.CreateGpuLxcClient(TestKeys.Sessions).AcquireLeaseAsync(new LeaseRequest { Holder = "ffmpeg" }));

        Assert.Equal(409, error.StatusCode);
        Assert.Equal("This host has no NVENC encoder.", error.Result.Title);
        Assert.Contains("NVENC encoder", error.Result.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"holder":""}""")]
    [InlineData("""{"holder":"x","ttlSeconds":1}""")]
    [InlineData("""{"holder":"x","waitSeconds":301}""")]
    [InlineData("""{"holder":"x","containerId":"../101"}""")]
    [InlineData("""{"holder":"x","colour":"red"}""")]
    [InlineData("""{"ttlSeconds":60}""")]
    public async Task AnInvalidLeaseRequestIsABadRequest(string body)
    {
        using var factory = Guarded(limit: 3);
        using var http = factory.CreateKeyedClient(TestKeys.Sessions);

        using var response = await http.PostAsync(new Uri("/api/v1/nvenc/leases", UriKind.Relative), new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        await ProblemResponseTests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task AcquiringAnswersCreatedWithTheLeasesLocation()
    {
        using var factory = Guarded(limit: 3);
        using var http = factory.CreateKeyedClient(TestKeys.Sessions);

        using var response = await http.PostAsJsonAsync("/api/v1/nvenc/leases", new { holder = "jellyfin", containerId = "101", ttlSeconds = 90 });
        var lease = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal($"/api/v1/nvenc/leases/{lease.GetProperty("id").GetString()}", response.Headers.Location!.OriginalString);
        Assert.Equal("host", lease.GetProperty("budget").GetString());
    }

    [Fact]
    public async Task SessionsTheDriverReportsAreAttributedToTheirContainersAndCount()
    {
        var tree = HostFixtures.Seed()
            .WithFile("/proc/4242/cgroup", "0::/lxc/101/ns/system.slice/jellyfin.service\n")
            .WithFile("/proc/4343/cgroup", "0::/system.slice/ffmpeg-by-hand.service\n");
        using var factory = new GpuLxcApiFactory(tree) { ConfigureServices = services => services.AddSingleton<GpuLxc.Api.HostAccess.INvml>(new FakeNvml()) };
        var client = factory.CreateGpuLxcClient(TestKeys.Admin);

        var status = await client.GetNvencAsync();
        var error = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.AcquireLeaseAsync(new LeaseRequest { Holder = "third" }));

        var budget = Assert.Single(status.Budgets);
        Assert.Equal((2, NvencLimitSource.DriverTable, 2, 0, 0), (budget.Limit, budget.LimitSource, budget.Observed, budget.Leases, budget.Available));
        var sessions = status.Sessions.OrderBy(s => s.Pid).ToList();
        Assert.Equal((4242, "101", "hevc", 1920, 1080, 60), (sessions[0].Pid, sessions[0].ContainerId, sessions[0].Codec, sessions[0].Width, sessions[0].Height, sessions[0].AverageFps));
        Assert.Equal((4343, (string?)null), (sessions[1].Pid, sessions[1].ContainerId));
        Assert.All(sessions, s => Assert.Equal("0000:03:00.0", s.Gpu));
        Assert.Equal(429, error.StatusCode);
    }

    private sealed class FakeNvml : GpuLxc.Api.HostAccess.INvml
    {
        public string? UnavailableReason => null;

        public string? DriverVersion() => "418.152.00";

        public IReadOnlyList<GpuLxc.Api.HostAccess.NvmlDevice> Devices() =>
            [new(0, "NVIDIA GeForce GTX 760", HostFixtures.SeedUuid, Brand: 5, Minor: 0, "00000000:03:00.0", EncoderCapacityH264: 100)];

        public IReadOnlyList<GpuLxc.Api.HostAccess.NvmlSample> Sample() =>
        [
            new(0, HostFixtures.SeedUuid, "00000000:03:00.0", [], null, new(2, 60, 1500, 40,
            [
                new(1, 4242, "hevc", 1920, 1080, 60, 1500),
                new(2, 4343, "h264", 1280, 720, 30, 900),
            ]), [], GpuLxc.Api.HostAccess.NvmlTotals.Unknown),
        ];
    }

    /// <summary>The containers the NVENC tests lease for: a lease must name a container the host has.</summary>
    internal static readonly string[] LeaseContainers = ["101", "102", "103", "104", "105"];

    /// <summary>The seed host (GTX 760; its nvidia-smi reporting no session unless <paramref name="host"/> says otherwise) with the operator's limit.</summary>
    internal static GpuLxcApiFactory Guarded(int limit, ManualTimeProvider? clock = null, HostTree? host = null)
    {
        var factory = new GpuLxcApiFactory((host ?? HostFixtures.Seed().WithCommand("nvidia-smi",
            $"echo '0, {HostFixtures.SeedUuid}, GeForce GTX 760, 00000000:03:00.0, 418.152.00, 80.04.C3.00.0F, 0, 0, 0, 0'")).WithContainers(LeaseContainers));
        factory.Settings["GpuLxc:Nvenc:LimitOverride"] = limit.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (clock is not null)
        {
            factory.ConfigureServices = services => services.AddSingleton<TimeProvider>(clock);
        }

        return factory;
    }
}
