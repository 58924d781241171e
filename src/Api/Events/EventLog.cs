using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using GpuLxc.Api.Infrastructure;

namespace GpuLxc.Api.Events;

/// <summary>
/// The event log. <see cref="Publish"/> gives the next id (one more than the largest id ever stored in
/// <c>gpulxc.db</c>, so ids never repeat across restarts) and hands the event to <see cref="EventWriter"/> through a
/// bounded channel: it takes a short lock and never waits on the database, a reader or a webhook. Readers
/// (<see cref="AfterAsync"/>) see an event only once it is committed, so that an id a client has seen is in the database
/// when it resumes after a restart. The last <see cref="RecentCapacity"/> committed events are also kept in memory,
/// so that live readers do not query the database.
/// </summary>
/// <remarks>Assumes one service per data directory, as the job records and leases do.</remarks>
public sealed partial class EventLog : IEventPublisher
{
    /// <summary>Committed events kept in memory for live readers and recent reconnects.</summary>
    public const int RecentCapacity = 1000;

    /// <summary>Events waiting for the writer; beyond this the oldest are dropped (counted in <see cref="Lost"/>).</summary>
    public const int PendingCapacity = 10_000;

    private static readonly JsonSerializerOptions Json = CreateJson();

    private readonly EventStore _store;
    private readonly TimeProvider _clock;
    private readonly ILogger<EventLog> _logger;
    private readonly Channel<GpuLxcEvent> _pending;
    private readonly Lock _publishGate = new();
    private readonly Lock _committedGate = new();
    private readonly Queue<GpuLxcEvent> _recent = new();
    private readonly Queue<GpuLxcEvent> _published = new();
    private TaskCompletionSource _nextCommit = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _lastId = -1;
    private long _lastCommitted = -1;
    private long _lost;

    public EventLog(EventStore store, TimeProvider clock, ILogger<EventLog> logger)
    {
        _store = store;
        _clock = clock;
        _logger = logger;
        _pending = Channel.CreateBounded<GpuLxcEvent>(
            new BoundedChannelOptions(PendingCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            _ => Interlocked.Increment(ref _lost));
    }

    /// <summary>Events given an id but never stored: the writer fell behind by <see cref="PendingCapacity"/>, or the database refused them.</summary>
    public long Lost => Interlocked.Read(ref _lost);

    /// <summary>The id of the newest stored event (0 for none).</summary>
    public long LastCommittedId
    {
        get
        {
            EnsureStarted();
            lock (_committedGate)
            {
                return _lastCommitted;
            }
        }
    }

    /// <summary>The newest id given (stored or not yet): a client cannot have seen a larger one from this data directory.</summary>
    public long LastPublishedId
    {
        get
        {
            EnsureStarted();
            lock (_publishGate)
            {
                return _lastId;
            }
        }
    }

    internal ChannelReader<GpuLxcEvent> Pending => _pending.Reader;

    /// <inheritdoc />
    public GpuLxcEvent Publish(string type, object? data = null)
    {
        var now = _clock.GetUtcNow();
        JsonObject body;
        try
        {
            body = data switch
            {
                null => [],
                JsonObject node => (JsonObject)node.DeepClone(),
                _ => JsonSerializer.SerializeToNode(data, data.GetType(), Json) as JsonObject ?? [],
            };
        }
        catch (Exception e) when (e is NotSupportedException or JsonException or InvalidOperationException)
        {
            LogUnserialisable(_logger, type, e);
            body = [];
        }

        try
        {
            EnsureStarted();
        }
        catch (Exception e)
        {
            // The database cannot be read: no id can be given that is sure not to repeat. The event is not kept.
            LogNotPublished(_logger, type, e);
            Interlocked.Increment(ref _lost);
            return new GpuLxcEvent(0, type, now, body);
        }

        lock (_publishGate)
        {
            // Written under the lock: the channel's order is the ids' order. DropOldest: TryWrite never fails or waits.
            var stored = new GpuLxcEvent(++_lastId, type, now, body);
            _pending.Writer.TryWrite(stored);
            _published.Enqueue(stored);
            if (_published.Count > RecentCapacity)
            {
                _published.Dequeue();
            }

            return stored;
        }
    }

    /// <summary>
    /// The last <see cref="RecentCapacity"/> events this process published with an id greater than
    /// <paramref name="afterId"/>, oldest first, stored or not yet: what the process itself saw, for checks inside it.
    /// A client that resumes reads <see cref="AfterAsync"/>, which has only stored events.
    /// </summary>
    public IReadOnlyList<GpuLxcEvent> After(long afterId)
    {
        lock (_publishGate)
        {
            return _published.Where(e => e.Id > afterId).ToList();
        }
    }

    /// <summary>
    /// At most <paramref name="limit"/> stored events with an id greater than <paramref name="afterId"/>, oldest first:
    /// from memory when they are recent, otherwise from the database.
    /// </summary>
    public async Task<IReadOnlyList<GpuLxcEvent>> AfterAsync(long afterId, int limit, CancellationToken cancellationToken)
    {
        EnsureStarted();
        lock (_committedGate)
        {
            if (afterId >= _lastCommitted)
            {
                return [];
            }

            if (_recent.TryPeek(out var oldest) && afterId >= oldest.Id - 1)
            {
                return _recent.Where(e => e.Id > afterId).Take(limit).ToList();
            }
        }

        return await _store.AfterAsync(afterId, limit, cancellationToken);
    }

    /// <summary>Completes once an event with an id greater than <paramref name="afterId"/> is stored.</summary>
    public Task CommittedAfter(long afterId)
    {
        EnsureStarted();
        lock (_committedGate)
        {
            return _lastCommitted > afterId ? Task.CompletedTask : _nextCommit.Task;
        }
    }

    /// <summary>The writer stored <paramref name="events"/> (ascending ids): readers may have them now.</summary>
    internal void Committed(IReadOnlyList<GpuLxcEvent> events)
    {
        TaskCompletionSource woken;
        lock (_committedGate)
        {
            foreach (var stored in events)
            {
                _recent.Enqueue(stored);
                _lastCommitted = Math.Max(_lastCommitted, stored.Id);
            }

            while (_recent.Count > RecentCapacity)
            {
                _recent.Dequeue();
            }

            woken = _nextCommit;
            _nextCommit = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        woken.TrySetResult();
    }

    /// <summary>The writer gave up on <paramref name="count"/> events (or the channel dropped them).</summary>
    internal void CountLost(int count) => Interlocked.Add(ref _lost, count);

    /// <summary>Reads the last stored id once; the first publisher or reader pays for it (one indexed read).</summary>
    private void EnsureStarted()
    {
        if (Volatile.Read(ref _lastCommitted) >= 0)
        {
            return;
        }

        lock (_publishGate)
        {
            if (_lastId >= 0)
            {
                return;
            }

            var last = _store.LastId();
            lock (_committedGate)
            {
                _lastCommitted = last;
            }

            _lastId = last;
        }
    }

    private static JsonSerializerOptions CreateJson()
    {
        var options = new JsonSerializerOptions();
        ApiJson.Configure(options);
        return options;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The data of event {Type} could not be serialised; published without data")]
    private static partial void LogUnserialisable(ILogger logger, string type, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Event {Type} was not published: the event log's database cannot be read")]
    private static partial void LogNotPublished(ILogger logger, string type, Exception exception);
}
