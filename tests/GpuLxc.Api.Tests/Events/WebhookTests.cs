using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using GpuLxc.Api.Events;
using GpuLxc.Api.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace GpuLxc.Api.Tests.Events;

public sealed class WebhookTests
{
    private const string Secret = "a-webhook-secret-of-32-characters";

    [Fact]
    public async Task AWebhookGetsSignedEventsAndARetryAfterA500()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Answers.Enqueue(500);
        using var factory = new GpuLxcApiFactory();
        factory.Settings["GpuLxc:Webhooks:ha:Url"] = receiver.Url.ToString();
        factory.Settings["GpuLxc:Webhooks:ha:Secret"] = Secret;
        factory.Settings["GpuLxc:Webhooks:ha:Types"] = "host.rebootNeeded, driver.changed";
        var publisher = factory.Services.GetRequiredService<IEventPublisher>();

        publisher.Publish(EventTypes.KernelStaged, new { Kernel = "6.8.0" });
        var reboot = publisher.Publish(EventTypes.RebootNeeded, new { Reason = "driverUpgraded", Loaded = "550.127.05", Installed = "550.135" });
        var deliveries = await receiver.WaitForAsync(2, TimeSpan.FromSeconds(30));
        using var reader = factory.CreateKeyedClient(TestKeys.Read);
        var metrics = await WaitForMetricAsync(reader, "gpulxc_webhook_deliveries_total{webhook=\"ha\"} 1");

        Assert.Equal([500, 200], deliveries.Select(d => d.AnsweredWith));
        Assert.All(deliveries, delivery =>
        {
            Assert.Equal(reboot.Id.ToString(CultureInfo.InvariantCulture), delivery.Headers["X-GpuLxc-Event-Id"]);
            Assert.Equal(EventTypes.RebootNeeded, delivery.Headers["X-GpuLxc-Event-Type"]);
            Assert.StartsWith("application/json", delivery.Headers["Content-Type"], StringComparison.Ordinal);
            // The scheme the README gives receivers, computed here independently of the service's code.
            var timestamp = delivery.Headers["X-GpuLxc-Timestamp"];
            byte[] signed = [.. Encoding.ASCII.GetBytes(timestamp + "."), .. delivery.Body];
            var expected = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), signed));
            Assert.Equal(expected, delivery.Headers["X-GpuLxc-Signature"]);
            Assert.True(Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - long.Parse(timestamp, CultureInfo.InvariantCulture)) < 300);
            var body = JsonDocument.Parse(delivery.Body).RootElement;
            Assert.Equal(reboot.Id, body.GetProperty("id").GetInt64());
            Assert.Equal("550.135", body.GetProperty("data").GetProperty("installed").GetString());
        });
        // The kernel event is not among the webhook's types: only the reboot was sent.
        Assert.DoesNotContain(receiver.Received, d => d.Headers["X-GpuLxc-Event-Type"] == EventTypes.KernelStaged);
        Assert.Contains("gpulxc_webhook_deliveries_total{webhook=\"ha\"} 1", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PublishingWhileTheReceiverIsDownNeverWaitsAndTheStreamStillGetsEverything()
    {
        using var factory = new GpuLxcApiFactory();
        factory.Settings["GpuLxc:Webhooks:down:Url"] = $"http://127.0.0.1:{FreePort().ToString(CultureInfo.InvariantCulture)}/hook";
        factory.Settings["GpuLxc:Webhooks:down:Secret"] = Secret;
        var publisher = factory.Services.GetRequiredService<IEventPublisher>();
        using var http = factory.CreateKeyedClient(TestKeys.Read);
        using var stream = await EventStream.OpenAsync(http);
        var count = Webhooks.QueueCapacity + 500;

        // Each delivery to a closed port is retried for some 30 s: a publisher that waited on it would not finish here.
        var publishing = Task.Run(() => Enumerable.Range(0, count).Select(n => publisher.Publish(EventTypes.JobStateChanged, new { JobId = n.ToString(CultureInfo.InvariantCulture) })).ToList());
        var finished = await Task.WhenAny(publishing, Task.Delay(TimeSpan.FromSeconds(20)));
        Assert.Same(publishing, finished);
        var published = await publishing;
        var streamed = await stream.ReadAsync(count, TimeSpan.FromSeconds(30));
        var metrics = await WaitForMetricAsync(http, "gpulxc_webhook_failures_total{webhook=\"down\",reason=\"dropped\"}");

        Assert.Equal(published.Select(e => e.Id), streamed.Select(e => e.Id));
        Assert.Contains("reason=\"dropped\"", metrics, StringComparison.Ordinal);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<string> WaitForMetricAsync(HttpClient http, string expected)
    {
        var text = "";
        for (var attempt = 0; attempt < 100 && !text.Contains(expected, StringComparison.Ordinal); attempt++)
        {
            await Task.Delay(attempt == 0 ? 0 : 100);
            text = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        }

        return text;
    }
}
