using System.Net;
using GpuLxc.Api.Events;
using GpuLxc.Api.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace GpuLxc.Api.Tests.Events;

public sealed class EventStreamTests
{
    [Fact]
    public async Task TheStreamDeliversEventsInOrderAndAReconnectWithLastEventIdResumesWithoutGapsOrDuplicates()
    {
        using var factory = new GpuLxcApiFactory();
        var publisher = factory.Services.GetRequiredService<IEventPublisher>();
        using var http = factory.CreateKeyedClient(TestKeys.Read);

        List<StreamedEvent> first;
        using (var stream = await EventStream.OpenAsync(http))
        {
            var published = Enumerable.Range(1, 5).Select(n => publisher.Publish(EventTypes.KernelStaged, new { Kernel = $"6.8.{n}-pve", ModuleBuilt = n % 2 == 0 })).ToList();
            first = [.. await stream.ReadAsync(5)];

            Assert.Equal(published.Select(e => e.Id), first.Select(e => e.Id));
            Assert.Equal(3000, stream.Retry);
            Assert.Equal("text/event-stream", stream.Response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("no-cache", stream.Response.Headers.CacheControl?.ToString());
        }

        // Published while the client is away: the reconnect gets exactly these, then what comes next.
        var missed = Enumerable.Range(6, 4).Select(n => publisher.Publish(EventTypes.MajorsChanged, new { Device = "nvidia-uvm", Previous = 509, Current = 500 + n })).ToList();
        using var again = await EventStream.OpenAsync(http, lastEventId: first[^1].Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var resumed = await again.ReadAsync(4);
        var next = publisher.Publish(EventTypes.DriverChanged, new { Previous = "550.127.05", Current = "550.135" });
        var after = Assert.Single(await again.ReadAsync(1));

        Assert.Equal(Enumerable.Range(0, 5).Select(i => first[0].Id + i), first.Select(e => e.Id));
        Assert.Equal(missed.Select(e => e.Id), resumed.Select(e => e.Id));
        Assert.Equal(first[^1].Id + 1, resumed[0].Id);
        Assert.All(resumed, e => Assert.Equal(EventTypes.MajorsChanged, e.Type));
        Assert.Equal(509, resumed[0].Data.GetProperty("data").GetProperty("previous").GetInt32());
        Assert.Equal(next.Id, after.Id);
        Assert.Equal(EventTypes.DriverChanged, after.Data.GetProperty("type").GetString());
        Assert.Equal("550.135", after.Data.GetProperty("data").GetProperty("current").GetString());
        Assert.Equal("6.8.1-pve", first[0].Data.GetProperty("data").GetProperty("kernel").GetString());
    }

    [Fact]
    public async Task AClientResumesAcrossARestartOfTheServiceAndIdsAreNeverReused()
    {
        using var host = HostTree.Proxmox();
        var dataDir = Directory.CreateTempSubdirectory("gpulxc-events-").FullName;
        try
        {
            List<GpuLxcEvent> before;
            using (var first = Service(host, dataDir))
            {
                var publisher = first.Services.GetRequiredService<IEventPublisher>();
                before = [.. Enumerable.Range(1, 3).Select(n => publisher.Publish(EventTypes.RebootNeeded, new { Reason = $"r{n}", Loaded = "550.127.05", Installed = "550.135" }))];
            }

            using var second = Service(host, dataDir);
            var later = second.Services.GetRequiredService<IEventPublisher>().Publish(EventTypes.DriverChanged, new { Previous = "550.127.05", Current = "550.135" });
            using var http = second.CreateKeyedClient(TestKeys.Read);
            using var stream = await EventStream.OpenAsync(http, lastEventId: before[0].Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var resumed = await stream.ReadAsync(3);

            Assert.Equal(before[^1].Id + 1, later.Id);
            Assert.Equal([before[1].Id, before[2].Id, later.Id], resumed.Select(e => e.Id));
            Assert.Equal("r2", resumed[0].Data.GetProperty("data").GetProperty("reason").GetString());
            Assert.Equal(EventTypes.DriverChanged, resumed[2].Type);
        }
        finally
        {
            HostTree.DeleteDirectory(dataDir);
        }
    }

    [Fact]
    public async Task TheStreamNeedsAKeyAndTheReadScopeIsEnough()
    {
        using var factory = new GpuLxcApiFactory();
        using var anonymous = factory.CreateKeyedClient(key: null);
        using var transcoder = factory.CreateKeyedClient(TestKeys.Sessions);
        using var reader = factory.CreateKeyedClient(TestKeys.Read);

        using var unauthorized = await anonymous.GetAsync(new Uri("/api/v1/events", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead);
        using var forbidden = await transcoder.GetAsync(new Uri("/api/v1/events", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead);
        using var stream = await EventStream.OpenAsync(reader);

        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        Assert.Equal(HttpStatusCode.OK, stream.Response.StatusCode);
    }

    [Theory]
    [InlineData("?types=driver.changed,no.such", null, "types")]
    [InlineData("?after=-1", null, "after")]
    [InlineData("", "twelve", "Last-Event-ID")]
    public async Task ABadPositionOrAnUnknownTypeIsRefusedBeforeTheStreamStarts(string query, string? lastEventId, string field)
    {
        using var factory = new GpuLxcApiFactory();
        using var http = factory.CreateKeyedClient(TestKeys.Read);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/v1/events" + query, UriKind.Relative));
        if (lastEventId is not null)
        {
            request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId);
        }

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(field, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TypesSelectWhatIsSentAndAfterResumesLikeTheHeader()
    {
        using var factory = new GpuLxcApiFactory();
        var publisher = factory.Services.GetRequiredService<IEventPublisher>();
        var start = publisher.Publish(EventTypes.KernelStaged, new { Kernel = "6.8.0" });
        var reboot = publisher.Publish(EventTypes.RebootNeeded, new { Reason = "driverUpgraded" });
        publisher.Publish(EventTypes.KernelStaged, new { Kernel = "6.8.1" });
        var driver = publisher.Publish(EventTypes.DriverChanged, new { Current = "550.135" });
        using var http = factory.CreateKeyedClient(TestKeys.Read);

        using var stream = await EventStream.OpenAsync(http, $"?after={start.Id}&types=host.rebootNeeded,driver.changed");
        var events = await stream.ReadAsync(2);

        Assert.Equal([reboot.Id, driver.Id], events.Select(e => e.Id));
    }

    [Fact]
    public async Task AnIdleStreamGetsKeepAliveComments()
    {
        using var factory = new GpuLxcApiFactory();
        factory.Settings["GpuLxc:Events:KeepAliveSeconds"] = "1";
        using var http = factory.CreateKeyedClient(TestKeys.Read);

        using var stream = await EventStream.OpenAsync(http);

        await stream.WaitForCommentAsync("keep-alive", TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task AResyncJobStreamsItsStateChangesAndItsStartAndEnd()
    {
        using var lab = new Drivers.DriverLab();
        using var factory = new GpuLxcApiFactory(lab.Host);
        using var http = factory.CreateKeyedClient(TestKeys.Read);
        using var stream = await EventStream.OpenAsync(http, "?types=job.stateChanged,resync.started,resync.finished");
        var client = factory.CreateGpuLxcClient();

        var job = await client.ResyncDriversAsync(new GpuLxc.Client.DriverResyncRequest());
        var events = await stream.ReadAsync(5, TimeSpan.FromSeconds(30));

        Assert.Equal(
            ["job.stateChanged queued", "job.stateChanged running", "resync.started", "job.stateChanged succeeded", "resync.finished"],
            events.Select(e => e.Type == EventTypes.JobStateChanged ? $"{e.Type} {e.Data.GetProperty("data").GetProperty("state").GetString()}" : e.Type));
        Assert.All(events, e => Assert.Equal(job.Result.Id, e.Data.GetProperty("data").GetProperty("jobId").GetString()));
        Assert.Equal("driverResync", events[0].Data.GetProperty("data").GetProperty("kind").GetString());
        Assert.Equal("admin", events[2].Data.GetProperty("data").GetProperty("trigger").GetString());
        Assert.Equal("succeeded", events[4].Data.GetProperty("data").GetProperty("state").GetString());
    }

    private static GpuLxcApiFactory Service(HostTree host, string dataDir)
    {
        var factory = new GpuLxcApiFactory(host, ownsHost: false);
        factory.Settings["GpuLxc:DataDir"] = dataDir;
        return factory;
    }
}
