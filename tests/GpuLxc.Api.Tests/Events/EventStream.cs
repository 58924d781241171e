using System.Text.Json;

namespace GpuLxc.Api.Tests.Events;

/// <summary>One event as a client reads it off the stream: the SSE fields, and the JSON of its <c>data:</c> line.</summary>
internal sealed record StreamedEvent(long Id, string Type, JsonElement Data);

/// <summary>
/// An open <c>GET /api/v1/events</c>: parses the stream as an EventSource would (fields up to a blank line; comment
/// lines, starting with <c>:</c>, kept apart), so that the tests read what any SSE client would read.
/// </summary>
internal sealed class EventStream : IDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;

    private EventStream(HttpResponseMessage response, Stream body)
    {
        _response = response;
        _reader = new StreamReader(body);
    }

    public HttpResponseMessage Response => _response;

    /// <summary>Comment lines seen so far, without the colon.</summary>
    public List<string> Comments { get; } = [];

    /// <summary>The last <c>retry:</c> value seen.</summary>
    public int? Retry { get; private set; }

    public static async Task<EventStream> OpenAsync(HttpClient http, string query = "", string? lastEventId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/v1/events" + query, UriKind.Relative));
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (!response.IsSuccessStatusCode)
        {
            Assert.Fail($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        return new EventStream(response, await response.Content.ReadAsStreamAsync());
    }

    /// <summary>The next <paramref name="count"/> events; fails the test when they do not come within <paramref name="timeout"/> (default 10 s).</summary>
    public async Task<IReadOnlyList<StreamedEvent>> ReadAsync(int count, TimeSpan? timeout = null)
    {
        using var limit = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        var events = new List<StreamedEvent>();
        try
        {
            while (events.Count < count)
            {
                events.Add(await NextAsync(limit.Token));
            }
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"{events.Count} of {count} events came: {string.Join(", ", events.Select(e => $"{e.Id} {e.Type}"))}");
        }

        return events;
    }

    /// <summary>Reads until a comment containing <paramref name="text"/> comes, or fails the test after <paramref name="timeout"/>.</summary>
    public async Task WaitForCommentAsync(string text, TimeSpan timeout)
    {
        using var limit = new CancellationTokenSource(timeout);
        while (!Comments.Any(c => c.Contains(text, StringComparison.Ordinal)))
        {
            var line = await _reader.ReadLineAsync(limit.Token) ?? throw new EndOfStreamException("The stream ended.");
            Take(line, new Dictionary<string, string>(StringComparer.Ordinal));
        }
    }

    private async Task<StreamedEvent> NextAsync(CancellationToken cancellationToken)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        while (true)
        {
            var line = await _reader.ReadLineAsync(cancellationToken) ?? throw new EndOfStreamException("The stream ended.");
            if (line.Length == 0 && fields.TryGetValue("data", out var data))
            {
                return new StreamedEvent(long.Parse(fields["id"], System.Globalization.CultureInfo.InvariantCulture), fields["event"],
                    JsonDocument.Parse(data).RootElement);
            }

            Take(line, fields);
        }
    }

    private void Take(string line, Dictionary<string, string> fields)
    {
        if (line.StartsWith(':'))
        {
            Comments.Add(line[1..].Trim());
            return;
        }

        var colon = line.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            return;
        }

        var (name, value) = (line[..colon], line[(colon + 1)..].TrimStart(' '));
        if (name == "retry")
        {
            Retry = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
        }
        else
        {
            // A second data: line would be joined with a line break; GpuLxc sends one.
            fields[name] = fields.TryGetValue(name, out var before) && name == "data" ? before + "\n" + value : value;
        }
    }

    public void Dispose()
    {
        _reader.Dispose();
        _response.Dispose();
    }
}
