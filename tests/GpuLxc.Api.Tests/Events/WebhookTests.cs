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
        var delivered = await WaitForMetricAsync(reader, "gpulxc_webhook_deliveries", "webhook=\"ha\"", value => value == 1);

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
        Assert.Equal(1, delivered);
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
        var dropped = await WaitForMetricAsync(http, "gpulxc_webhook_failures", "reason=\"dropped\"", value => value >= count - Webhooks.QueueCapacity - 1);

        Assert.Equal(published.Select(e => e.Id), streamed.Select(e => e.Id));
        // The queue holds QueueCapacity events and one is in the sender's hands: the rest were dropped, and counted.
        Assert.True(dropped >= count - Webhooks.QueueCapacity - 1, $"{dropped} dropped");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// The value of the series of <paramref name="name"/> (as the README names it: Prometheus' text format, where a
    /// counter has no <c>_total</c>) whose labels include <paramref name="label"/>, once <paramref name="done"/> holds
    /// for it (polled for up to 10 s).
    /// </summary>
    private static async Task<double> WaitForMetricAsync(HttpClient http, string name, string label, Func<double, bool> done)
    {
        var value = double.NaN;
        var text = "";
        for (var attempt = 0; attempt < 100 && !(value is not double.NaN && done(value)); attempt++)
        {
            await Task.Delay(attempt == 0 ? 0 : 100);
            text = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
            var line = text.Split('\n').FirstOrDefault(l => l.StartsWith(name + "{", StringComparison.Ordinal) && l.Contains(label, StringComparison.Ordinal));
            value = line is null ? double.NaN : double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
        }

        Assert.False(double.IsNaN(value), $"No {name} with {label} in:\n" + string.Join("\n", text.Split('\n').Where(l => l.Contains("gpulxc_", StringComparison.Ordinal))));
        return value;
    }
}
