using System.Text.Json;
using System.Text.Json.Nodes;
using GpuLxc.Api.Infrastructure;

namespace GpuLxc.Api.Events;

/// <summary>
/// The process's event log: the last <see cref="Capacity"/> events in memory, ids from 1 upwards.
/// Thread-safe; <see cref="Publish"/> only appends under a short lock.
/// </summary>
public sealed class EventLog(TimeProvider clock) : IEventPublisher
{
    /// <summary>How many events are kept for readers that fall behind or reconnect.</summary>
    public const int Capacity = 1000;

    private static readonly JsonSerializerOptions Json = CreateJson();
    private readonly Queue<GpuLxcEvent> _events = new();
    private readonly Lock _gate = new();
    private long _lastId;

    /// <inheritdoc />
    public GpuLxcEvent Publish(string type, object? data = null)
    {
        var body = data is null ? [] : JsonSerializer.SerializeToNode(data, Json) as JsonObject ?? [];
        lock (_gate)
        {
            var stored = new GpuLxcEvent(++_lastId, type, clock.GetUtcNow(), body);
            _events.Enqueue(stored);
            if (_events.Count > Capacity)
            {
                _events.Dequeue();
            }

            return stored;
        }
    }

    /// <summary>Events with an id greater than <paramref name="afterId"/>, oldest first.</summary>
    public IReadOnlyList<GpuLxcEvent> After(long afterId)
    {
        lock (_gate)
        {
            return _events.Where(e => e.Id > afterId).ToList();
        }
    }

    private static JsonSerializerOptions CreateJson()
    {
        var options = new JsonSerializerOptions();
        ApiJson.Configure(options);
        return options;
    }
}

/// <summary>Registration of the event log.</summary>
public static class EventsServices
{
    public static IServiceCollection AddEvents(this IServiceCollection services)
    {
        services.AddSingleton<EventLog>();
        services.AddSingleton<IEventPublisher>(sp => sp.GetRequiredService<EventLog>());
        return services;
    }
}
