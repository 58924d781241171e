using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GpuLxc.Api.Tests.Events;

/// <summary>One POST a receiver got: its headers and its body's bytes as sent.</summary>
internal sealed record ReceivedDelivery(IReadOnlyDictionary<string, string> Headers, byte[] Body, int AnsweredWith);

/// <summary>
/// A webhook receiver on a real socket: Kestrel on an ephemeral loopback port. It answers each POST with the next
/// status of <see cref="Answers"/> (200 once they run out) and keeps what it got.
/// </summary>
internal sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private WebhookReceiver(WebApplication app) => _app = app;

    public ConcurrentQueue<int> Answers { get; } = new();

    public ConcurrentQueue<ReceivedDelivery> Received { get; } = new();

    public Uri Url { get; private set; } = null!;

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.MapPost("/hook", async (HttpContext http) =>
        {
            using var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body);
            var status = receiver.Answers.TryDequeue(out var next) ? next : StatusCodes.Status200OK;
            receiver.Received.Enqueue(new ReceivedDelivery(
                http.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase), body.ToArray(), status));
            return Results.StatusCode(status);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        receiver.Url = new Uri(new Uri(address), "/hook");
        return receiver;
    }

    /// <summary>Waits until <paramref name="count"/> deliveries came; fails the test after <paramref name="timeout"/>.</summary>
    public async Task<IReadOnlyList<ReceivedDelivery>> WaitForAsync(int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Received.Count < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{Received.Count} of {count} deliveries came within {timeout.TotalSeconds} s.");
            await Task.Delay(50);
        }

        return [.. Received];
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
