using System.CommandLine;
using System.Globalization;
using System.Net.ServerSentEvents;
using System.Text.Json;
using Spectre.Console;

namespace GpuLxc.Cli;

/// <summary>
/// <c>gpulxc events</c>: follows <c>GET /api/v1/events</c> (Server-Sent Events) until Ctrl-C — what GpuLxc sees and
/// does (driver changed, reboot needed, re-sync, drift, NVENC budget full, job states). The stream is read through
/// the generated client's <c>StreamEventsAsync</c>; each event's <c>data:</c> is the whole event as JSON.
/// </summary>
public static class EventCommands
{
    public static IEnumerable<Command> Create(CliHost host)
    {
        var after = CliOptions.Number("--after", "Start after this event id (the events stored since then come first)", 0L, long.MaxValue);
        var types = new Option<string[]>("--type") { Description = "Only events of this type (repeatable): driver.changed, host.rebootNeeded, job.stateChanged, …", AllowMultipleArgumentsPerToken = false };
        var events = new Command("events", "Follow what GpuLxc sees and does, as it happens (Ctrl-C ends); --json prints one event per line") { after, types };
        events.Handle(host, async context =>
        {
            var filter = context.Parse.GetValue(types) is { Length: > 0 } chosen ? string.Join(',', chosen) : null;
            using var response = await context.Client.StreamEventsAsync(after: context.Get(after), types: filter, cancellationToken: context.CancellationToken);
            try
            {
                await foreach (var item in SseParser.Create(response.Stream).EnumerateAsync(context.CancellationToken))
                {
                    Write(context, item);
                }
            }
            catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
            {
                return ExitCodes.Interrupted;
            }

            context.Host.Error.MarkupLine("[grey]The service ended the stream (it is stopping); run gpulxc events --after <last id> to resume.[/]");
            return ExitCodes.Ok;
        });
        yield return events;
    }

    private static void Write(CommandContext context, SseItem<string> item)
    {
        if (context.Json)
        {
            // One compact JSON object a line: jq -c 'select(.type == "host.rebootNeeded")' reads it as it comes.
            context.Out.Profile.Out.Writer.WriteLine(item.Data);
            context.Out.Profile.Out.Writer.Flush();
            return;
        }

        using var document = JsonDocument.Parse(item.Data);
        var root = document.RootElement;
        var time = root.TryGetProperty("time", out var at) && at.TryGetDateTimeOffset(out var stamp)
            ? stamp.ToLocalTime().ToString("HH:mm:ss", CultureInfo.InvariantCulture)
            : "";
        var data = root.TryGetProperty("data", out var body) ? body.GetRawText() : "{}";
        context.Out.MarkupLineInterpolated($"[grey]{time}[/] [grey]#{item.EventId}[/] [bold]{item.EventType}[/] {data}");
    }
}
