using System.Text.Json.Nodes;

namespace GpuLxc.Api.Events;

/// <summary>
/// One thing GpuLxc saw or did. <see cref="Id"/> increases strictly within one data directory (the SSE
/// <c>id:</c>, resumable with <c>Last-Event-ID</c>); <see cref="Time"/> is UTC; <see cref="Data"/> is a small
/// camelCase JSON object whose members each <see cref="EventTypes"/> constant documents.
/// </summary>
public sealed record GpuLxcEvent(long Id, string Type, DateTimeOffset Time, JsonObject Data);

/// <summary>
/// Where features report what they see and do. Publishing never blocks on subscribers or webhooks and never throws
/// to the caller: a watcher or a job must not fail because nobody listens.
/// </summary>
public interface IEventPublisher
{
    /// <summary>Records <paramref name="type"/> (one of <see cref="EventTypes"/>) with <paramref name="data"/> (serialised camelCase) and returns the stored event.</summary>
    GpuLxcEvent Publish(string type, object? data = null);
}
