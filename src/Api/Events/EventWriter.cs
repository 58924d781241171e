using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Events;

/// <summary>
/// Stores what <see cref="EventLog.Publish"/> queued, in batches of up to <see cref="MaxBatch"/> per transaction, then
/// hands the stored events to readers and webhooks; deletes events beyond retention (<see cref="EventOptions"/>) once a
/// minute. On stop it writes what is still queued, so that a client resuming after a restart finds every event it
/// could have seen.
/// </summary>
public sealed partial class EventWriter(
    EventLog log, EventStore store, Webhooks webhooks, IOptions<EventOptions> options, TimeProvider clock, ILogger<EventWriter> logger)
    : BackgroundService
{
    public const int MaxBatch = 500;

    private static readonly TimeSpan PruneInterval = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan[] RetryDelays = [TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5)];
    private DateTimeOffset _nextPrune = DateTimeOffset.MinValue;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (await log.Pending.WaitToReadAsync(stoppingToken))
            {
                await WriteQueuedAsync();
                await PruneIfDueAsync();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: the queued events are written below.
        }

        await WriteQueuedAsync();
    }

    /// <summary>Writes until the queue is empty. Never cancelled half-way: a batch is stored whole or retried.</summary>
    private async Task WriteQueuedAsync()
    {
        var batch = new List<GpuLxcEvent>(MaxBatch);
        while (true)
        {
            batch.Clear();
            while (batch.Count < MaxBatch && log.Pending.TryRead(out var next))
            {
                batch.Add(next);
            }

            if (batch.Count == 0)
            {
                return;
            }

            if (await StoreAsync(batch))
            {
                log.Committed(batch);
                webhooks.Enqueue(batch);
            }
        }
    }

    private async Task<bool> StoreAsync(List<GpuLxcEvent> batch)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await store.AppendAsync(batch, CancellationToken.None);
                return true;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                if (attempt == RetryDelays.Length)
                {
                    // Readers skip the ids (a gap, never a repeat); the log says which.
                    LogLost(logger, batch.Count, batch[0].Id, batch[^1].Id, e);
                    log.CountLost(batch.Count);
                    return false;
                }

                await Task.Delay(RetryDelays[attempt], clock);
            }
        }
    }

    private async Task PruneIfDueAsync()
    {
        var now = clock.GetUtcNow();
        if (now < _nextPrune)
        {
            return;
        }

        _nextPrune = now + PruneInterval;
        try
        {
            await store.PruneAsync(options.Value.RetainCount, now - TimeSpan.FromDays(options.Value.RetainDays), CancellationToken.None);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogPruneFailed(logger, e);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "{Count} events ({First}–{Last}) could not be stored and are lost")]
    private static partial void LogLost(ILogger logger, int count, long first, long last, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Deleting events beyond retention failed; retried in a minute")]
    private static partial void LogPruneFailed(ILogger logger, Exception exception);
}
