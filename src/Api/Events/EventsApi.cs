using System.Globalization;
using System.Text;
using System.Text.Json;
using GpuLxc.Api.Infrastructure;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Events;

/// <summary>
/// <c>GET /api/v1/events</c>: the event log as Server-Sent Events. Written by hand rather than with
/// <c>TypedResults.ServerSentEvents</c>: an idle stream needs keep-alive comments, which that result cannot write.
/// </summary>
public static class EventsApi
{
    public const string ContentType = "text/event-stream";

    /// <summary>How long a client waits before it reconnects (the stream's <c>retry:</c> field), in milliseconds.</summary>
    public const int ReconnectMilliseconds = 3000;

    private const int ReadBatch = 500;
    private static readonly JsonSerializerOptions Json = CreateJson();

    public static RouteGroupBuilder MapEvents(this RouteGroupBuilder api)
    {
        var events = api.MapGroup("/events").WithTags("Events");
        events.MapGet("/", StreamEventsAsync).WithName("StreamEvents")
            .WithDescription(
                "A `text/event-stream` that stays open: each event is an `id:` (increasing, never reused), an `event:` (its type: " +
                string.Join(", ", EventTypes.All.Order(StringComparer.Ordinal).Select(t => $"`{t}`")) + ") and one `data:` line, the " +
                "event as JSON `{\"id\":…,\"type\":…,\"time\":…,\"data\":{…}}`. Idle streams get a `: keep-alive` comment every " +
                "`GpuLxc:Events:KeepAliveSeconds` (15). Without a position the stream starts with the next event. To resume, send " +
                "the last id seen as the `Last-Event-ID` header (browsers' EventSource does) or as `after` (for curl); the header wins. " +
                "Events are kept in `gpulxc.db` (the newest `GpuLxc:Events:RetainCount`, for `GpuLxc:Events:RetainDays`), so a " +
                "client resumes across a restart of the service; one that was away longer gets what is still kept. `types` " +
                "(comma-separated) sends only those types.")
            .Produces<Stream>(StatusCodes.Status200OK, ContentType)
            .Problems(RequestProblems.Invalid);
        return api;
    }

    /// <summary>What GpuLxc sees and does, as Server-Sent Events</summary>
    /// <param name="http">The request, whose body is the stream.</param>
    /// <param name="lastEventId">The id of the last event the client got: the stream starts after it. Sent by EventSource when it reconnects.</param>
    /// <param name="after">As <c>Last-Event-ID</c>, for clients that cannot set a header (curl); the header wins.</param>
    /// <param name="types">Comma-separated event types to send (e.g. <c>host.rebootNeeded,driver.changed</c>); none: every type.</param>
    /// <param name="log">The event log.</param>
    /// <param name="options">The keep-alive interval.</param>
    /// <param name="lifetime">Ends the stream when the service stops.</param>
    /// <param name="clock">The keep-alive timer's clock.</param>
    /// <param name="cancellationToken">The client left.</param>
    /// <exception cref="ProblemException"><see cref="RequestProblems.Invalid"/> (400): a position that is not a whole number ≥ 0, or an unknown type.</exception>
    public static async Task StreamEventsAsync(
        HttpContext http,
        [FromHeader(Name = "Last-Event-ID")] string? lastEventId,
        [FromQuery] long? after,
        [FromQuery] string? types,
        EventLog log,
        IOptions<EventOptions> options,
        IHostApplicationLifetime lifetime,
        TimeProvider clock,
        CancellationToken cancellationToken)
    {
        var position = Position(lastEventId, after);
        var wanted = Types(types);

        // Resuming from an id this data directory never gave (another host's, or one before the data was wiped) would wait
        // for ids that may never come: such a client starts with the next event.
        var start = Math.Min(position ?? long.MaxValue, log.LastPublishedId);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lifetime.ApplicationStopping);
        var token = stop.Token;

        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        http.Response.ContentType = ContentType;
        http.Response.Headers.CacheControl = "no-cache";
        // A reverse proxy (nginx) would otherwise hold the stream back in its buffer.
        http.Response.Headers["X-Accel-Buffering"] = "no";
        var body = http.Response.Body;
        var keepAlive = TimeSpan.FromSeconds(options.Value.KeepAliveSeconds);
        try
        {
            await WriteAsync(body, $"retry: {ReconnectMilliseconds.ToString(CultureInfo.InvariantCulture)}\n: stream of GpuLxc events after {start.ToString(CultureInfo.InvariantCulture)}\n\n", token);
            while (!token.IsCancellationRequested)
            {
                var committed = log.CommittedAfter(start);
                var events = await log.AfterAsync(start, ReadBatch, token);
                if (events.Count > 0)
                {
                    var text = new StringBuilder();
                    foreach (var stored in events)
                    {
                        if (wanted is null || wanted.Contains(stored.Type))
                        {
                            Append(text, stored);
                        }

                        start = stored.Id;
                    }

                    if (text.Length > 0)
                    {
                        await WriteAsync(body, text.ToString(), token);
                    }

                    continue;
                }

                if (await Task.WhenAny(committed, Task.Delay(keepAlive, clock, token)) != committed)
                {
                    token.ThrowIfCancellationRequested();
                    await WriteAsync(body, ": keep-alive\n\n", token);
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The client left or the service stops; a client resumes with the last id it got.
        }
    }

    /// <summary>One event in SSE form: its id, its type and its JSON on one <c>data:</c> line (JSON text has no raw line breaks).</summary>
    internal static void Append(StringBuilder text, GpuLxcEvent stored) =>
        text.Append("id: ").Append(stored.Id.ToString(CultureInfo.InvariantCulture)).Append('\n')
            .Append("event: ").Append(stored.Type).Append('\n')
            .Append("data: ").Append(JsonSerializer.Serialize(stored, Json)).Append("\n\n");

    private static async Task WriteAsync(Stream body, string text, CancellationToken cancellationToken)
    {
        await body.WriteAsync(Encoding.UTF8.GetBytes(text), cancellationToken);
        await body.FlushAsync(cancellationToken);
    }

    private static long? Position(string? lastEventId, long? after)
    {
        if (!string.IsNullOrWhiteSpace(lastEventId))
        {
            return long.TryParse(lastEventId.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var id)
                ? id
                : throw RequestProblems.InvalidField("Last-Event-ID", "Last-Event-ID must be an event id: a whole number, 0 or more.");
        }

        return after is < 0 ? throw RequestProblems.InvalidField("after", "after must be an event id: a whole number, 0 or more.") : after;
    }

    private static HashSet<string>? Types(string? types)
    {
        var listed = (types ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (listed.Length == 0)
        {
            return null;
        }

        var unknown = listed.Where(type => !EventTypes.All.Contains(type)).ToList();
        return unknown.Count > 0
            ? throw RequestProblems.InvalidField("types", $"Unknown event type(s): {string.Join(", ", unknown)}. Known: {string.Join(", ", EventTypes.All.Order(StringComparer.Ordinal))}.")
            : listed.ToHashSet(StringComparer.Ordinal);
    }

    private static JsonSerializerOptions CreateJson()
    {
        var options = new JsonSerializerOptions();
        ApiJson.Configure(options);
        return options;
    }
}
