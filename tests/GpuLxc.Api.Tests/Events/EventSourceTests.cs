using System.Text;
using GpuLxc.Api.Events;
using GpuLxc.Api.Tests.Nvenc;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;
using Microsoft.Extensions.DependencyInjection;

namespace GpuLxc.Api.Tests.Events;

/// <summary>
/// What the existing features publish, read off the stream. Each test ends with a marker event of its own: the events
/// before it are all the feature published, so "once" is checked, not assumed.
/// </summary>
public sealed class EventSourceTests
{
    [Fact]
    public async Task TheNvencBudgetFillingUpIsPublishedOncePerTimeItFills()
    {
        using var factory = NvencApiTests.Guarded(limit: 2);
        var client = factory.CreateGpuLxcClient();
        using var http = factory.CreateKeyedClient(TestKeys.Read);
        using var stream = await EventStream.OpenAsync(http, "?types=nvenc.budgetFull,kernel.staged");

        var first = await client.AcquireLeaseAsync(new LeaseRequest { Holder = "a", TtlSeconds = 600 });
        await client.AcquireLeaseAsync(new LeaseRequest { Holder = "b", TtlSeconds = 600 });
        var refused = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.AcquireLeaseAsync(new LeaseRequest { Holder = "c", TtlSeconds = 600 }));
        await client.GetNvencAsync();
        await client.ReleaseLeaseAsync(first.Id);
        await client.AcquireLeaseAsync(new LeaseRequest { Holder = "d", TtlSeconds = 600 });
        factory.Services.GetRequiredService<IEventPublisher>().Publish(EventTypes.KernelStaged, new { Kernel = "marker" });
        var events = await stream.ReadAsync(3);

        Assert.Equal(429, refused.StatusCode);
        Assert.Equal([EventTypes.NvencBudgetFull, EventTypes.NvencBudgetFull, EventTypes.KernelStaged], events.Select(e => e.Type));
        var data = events[0].Data.GetProperty("data");
        Assert.Equal("host", data.GetProperty("scope").GetString());
        Assert.Equal(2, data.GetProperty("limit").GetInt32());
        Assert.Equal(2, data.GetProperty("inUse").GetInt32());
    }

    [Fact]
    public async Task DriftIsPublishedWhenAContainersStatusChangesNotOnEveryRead()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        var client = factory.CreateGpuLxcClient();
        await client.AttachGpuAsync("101", new AttachRequest { Mode = AttachmentMode.Raw });
        await client.GetAttachmentAsync("101");
        using var http = factory.CreateKeyedClient(TestKeys.Read);
        using var stream = await EventStream.OpenAsync(http, "?types=attachment.driftFound,kernel.staged");

        var config = "/etc/pve/lxc/101.conf";
        factory.Host.WithFile(config, Encoding.UTF8.GetString(factory.Host.Bytes(config)).Replace("c 509:* rwm", "c 243:* rwm", StringComparison.Ordinal));
        await client.GetAttachmentAsync("101");
        await client.ListAttachmentsAsync();
        await client.GetAttachmentAsync("101");
        factory.Services.GetRequiredService<IEventPublisher>().Publish(EventTypes.KernelStaged, new { Kernel = "marker" });
        var events = await stream.ReadAsync(2);

        Assert.Equal([EventTypes.DriftFound, EventTypes.KernelStaged], events.Select(e => e.Type));
        var data = events[0].Data.GetProperty("data");
        Assert.Equal("101", data.GetProperty("containerId").GetString());
        Assert.Equal("editedByHand", data.GetProperty("drift").GetString());
        Assert.Contains("c 509:* rwm", data.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}
