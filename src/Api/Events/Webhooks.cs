using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Threading.Channels;
using GpuLxc.Api.Infrastructure;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Events;

/// <summary>
/// The configured webhooks (<c>GpuLxc:Webhooks:&lt;name&gt;</c>), each with its own sender: a bounded queue of
/// <see cref="QueueCapacity"/> stored events (full: the oldest is dropped and counted) and one loop that POSTs them in
/// order, signed (<see cref="WebhookSignature"/>), through the <see cref="HttpClientName"/> client whose resilience
/// handler retries with exponential backoff. A slow or dead receiver only delays its own queue.
/// </summary>
public sealed partial class Webhooks : BackgroundService
{
    /// <summary>The named <see cref="HttpClient"/> of the deliveries (retries and per-attempt timeout: <see cref="EventsServices"/>).</summary>
    public const string HttpClientName = "GpuLxc.Webhooks";

    /// <summary>Events waiting for one webhook; beyond this the oldest are dropped.</summary>
    public const int QueueCapacity = 1000;

    private static readonly JsonSerializerOptions Json = CreateJson();
    private readonly IReadOnlyList<Sender> _senders;

    public Webhooks(IOptions<WebhookOptions> options, IHttpClientFactory clients, EventMetrics metrics, TimeProvider clock, ILogger<Webhooks> logger) =>
        _senders = options.Value.Webhooks
            .Select(pair => new Sender(pair.Key, pair.Value, clients, metrics, clock, logger))
            .ToList();

    /// <summary>Queues stored events for every webhook whose types take them; never waits.</summary>
    public void Enqueue(IReadOnlyList<GpuLxcEvent> events)
    {
        foreach (var sender in _senders)
        {
            foreach (var stored in events)
            {
                sender.Offer(stored);
            }
        }
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(_senders.Select(sender => sender.RunAsync(stoppingToken)));

    private static JsonSerializerOptions CreateJson()
    {
        var options = new JsonSerializerOptions();
        ApiJson.Configure(options);
        return options;
    }

    private sealed class Sender
    {
        private readonly string _name;
        private readonly Uri _url;
        private readonly string _secret;
        private readonly IReadOnlySet<string>? _types;
        private readonly IHttpClientFactory _clients;
        private readonly EventMetrics _metrics;
        private readonly TimeProvider _clock;
        private readonly ILogger _logger;
        private readonly Channel<GpuLxcEvent> _queue;

        public Sender(string name, WebhookEntry entry, IHttpClientFactory clients, EventMetrics metrics, TimeProvider clock, ILogger logger)
        {
            _name = name;
            _url = new Uri(entry.Url!.Trim(), UriKind.Absolute);
            _secret = entry.Secret!;
            _types = entry.TypeSet();
            _clients = clients;
            _metrics = metrics;
            _clock = clock;
            _logger = logger;
            _queue = Channel.CreateBounded<GpuLxcEvent>(
                new BoundedChannelOptions(QueueCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
                dropped =>
                {
                    metrics.Failed(name, "dropped");
                    LogDropped(logger, name, dropped.Id);
                });
        }

        public void Offer(GpuLxcEvent stored)
        {
            if (_types is null || _types.Contains(stored.Type))
            {
                _queue.Writer.TryWrite(stored);
            }
        }

        public async Task RunAsync(CancellationToken stoppingToken)
        {
            try
            {
                await foreach (var stored in _queue.Reader.ReadAllAsync(stoppingToken))
                {
                    await DeliverAsync(stored, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                // Stopping: what is still queued is not sent (a receiver that needs every event reads the stream, which resumes).
            }
        }

        private async Task DeliverAsync(GpuLxcEvent stored, CancellationToken stoppingToken)
        {
            var body = JsonSerializer.SerializeToUtf8Bytes(stored, Json);
            var timestamp = _clock.GetUtcNow().ToUnixTimeSeconds();
            using var request = new HttpRequestMessage(HttpMethod.Post, _url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
            request.Headers.Add(WebhookSignature.EventIdHeader, stored.Id.ToString(CultureInfo.InvariantCulture));
            request.Headers.Add(WebhookSignature.EventTypeHeader, stored.Type);
            request.Headers.Add(WebhookSignature.TimestampHeader, timestamp.ToString(CultureInfo.InvariantCulture));
            request.Headers.Add(WebhookSignature.SignatureHeader, WebhookSignature.Sign(_secret, timestamp, body));
            request.Headers.UserAgent.Add(new ProductInfoHeaderValue("GpuLxc", null));
            try
            {
                using var response = await _clients.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stoppingToken);
                if (response.IsSuccessStatusCode)
                {
                    _metrics.Delivered(_name);
                    return;
                }

                _metrics.Failed(_name, "rejected");
                LogRejected(_logger, _name, stored.Id, (int)response.StatusCode);
            }
            catch (Exception e) when (e is HttpRequestException or TimeoutException or TaskCanceledException or Polly.Timeout.TimeoutRejectedException
                                      && !stoppingToken.IsCancellationRequested)
            {
                _metrics.Failed(_name, "unreachable");
                LogUnreachable(_logger, _name, stored.Id, e.Message);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook {Webhook}: event {EventId} answered {Status} after the retries; not sent again")]
    private static partial void LogRejected(ILogger logger, string webhook, long eventId, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook {Webhook}: event {EventId} could not be delivered after the retries ({Reason}); not sent again")]
    private static partial void LogUnreachable(ILogger logger, string webhook, long eventId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook {Webhook}: its queue is full; event {EventId} was dropped")]
    private static partial void LogDropped(ILogger logger, string webhook, long eventId);
}
