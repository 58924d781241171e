using System.Diagnostics.Metrics;
using GpuLxc.Api.Metrics;

namespace GpuLxc.Api.Events;

/// <summary>
/// Counters on the <c>GpuLxc</c> meter (<c>/metrics</c>): <c>gpulxc_webhook_deliveries</c> (label <c>webhook</c>),
/// events a receiver answered with 2xx; <c>gpulxc_webhook_failures</c> (labels <c>webhook</c>, <c>reason</c>:
/// <c>rejected</c> — a non-2xx answer after the retries, <c>unreachable</c> — no answer after the retries,
/// <c>dropped</c> — the webhook's queue was full); <c>gpulxc_events_lost</c>, events given an id but never stored.
/// </summary>
public sealed class EventMetrics
{
    private readonly Counter<long> _deliveries;
    private readonly Counter<long> _failures;

    public EventMetrics(IMeterFactory meters, EventLog log)
    {
        // The factory's meter of that name (shared with GpuLxcMetrics); the factory disposes it.
        var meter = meters.Create(GpuLxcMetrics.MeterName);
        _deliveries = meter.CreateCounter<long>("webhook_deliveries", "{event}", "Events a webhook receiver accepted (2xx)");
        _failures = meter.CreateCounter<long>("webhook_failures", "{event}", "Events a webhook did not deliver, by reason: rejected, unreachable, dropped");
        meter.CreateObservableCounter("events_lost", () => log.Lost, "{event}", "Events given an id but never stored (the writer fell behind, or the database refused them)");
    }

    public void Delivered(string webhook) => _deliveries.Add(1, new KeyValuePair<string, object?>("webhook", webhook));

    public void Failed(string webhook, string reason) =>
        _failures.Add(1, new KeyValuePair<string, object?>("webhook", webhook), new KeyValuePair<string, object?>("reason", reason));
}
