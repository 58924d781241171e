using System.Diagnostics.Metrics;
using GpuLxc.Api.Attachments;
using GpuLxc.Api.Containers;
using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.Inventory;
using GpuLxc.Api.Jobs;

namespace GpuLxc.Api.Metrics;

/// <summary>
/// Gauges of the host's state on the <c>GpuLxc</c> meter: attachments by drift status, each GPU's encoder and jobs
/// by state (<c>/metrics</c> names them <c>gpulxc_attachments</c>, <c>gpulxc_gpu_encoder_utilization</c>,
/// <c>gpulxc_gpu_encoder_sessions</c>, <c>gpulxc_jobs</c>).
/// They report the last snapshot <see cref="MetricsRefresher"/> took, so that a scrape never waits on the host.
/// </summary>
public sealed class GpuLxcMetrics : IDisposable
{
    public const string MeterName = "GpuLxc";

    private readonly Meter _meter;
    private IReadOnlyList<Attachment> _attachments = [];
    private IReadOnlyList<Gpu> _gpus = [];
    private IReadOnlyDictionary<JobState, int> _jobs = new Dictionary<JobState, int>();

    public GpuLxcMetrics(IMeterFactory meters)
    {
        _meter = meters.Create(MeterName);
        _meter.CreateObservableGauge("attachments", () =>
            Enum.GetValues<DriftStatus>().Select(status => new Measurement<int>(
                _attachments.Count(a => a.Drift.Status == status),
                new KeyValuePair<string, object?>("drift", System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(status.ToString())))),
            description: "GPU attachments by drift status");
        _meter.CreateObservableGauge("gpu_encoder_utilization", () =>
            _gpus.Where(g => g.Nvenc.UtilizationPercent is not null)
                .Select(g => new Measurement<int>(g.Nvenc.UtilizationPercent!.Value, new KeyValuePair<string, object?>("gpu", g.PciAddress))),
            unit: "%", description: "Encoder utilisation of each GPU, as the driver reports it");
        _meter.CreateObservableGauge("gpu_encoder_sessions", () =>
            _gpus.Where(g => g.Nvenc.SessionCount is not null)
                .Select(g => new Measurement<int>(g.Nvenc.SessionCount!.Value, new KeyValuePair<string, object?>("gpu", g.PciAddress))),
            unit: "{session}", description: "Encode sessions running on each GPU");
        _meter.CreateObservableGauge("jobs", () =>
            _jobs.Select(pair => new Measurement<int>(
                pair.Value, new KeyValuePair<string, object?>("state", System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(pair.Key.ToString())))),
            unit: "{job}", description: "Driver jobs by state (queued, running, succeeded, failed, cancelled)");
    }

    public void Update(IReadOnlyList<Attachment>? attachments, IReadOnlyList<Gpu>? gpus, IReadOnlyDictionary<JobState, int>? jobs = null)
    {
        _attachments = attachments ?? _attachments;
        _gpus = gpus ?? _gpus;
        _jobs = jobs ?? _jobs;
    }

    public void Dispose() => _meter.Dispose();
}

/// <summary>Takes the snapshot behind <see cref="GpuLxcMetrics"/> every <c>GpuLxc:Metrics:RefreshSeconds</c> (default 15).</summary>
public sealed partial class MetricsRefresher(
    GpuLxcMetrics metrics, AttachmentService attachments, GpuInventory inventory, JobStore jobs, IConfiguration configuration, ILogger<MetricsRefresher> logger)
    : BackgroundService
{
    public const string RefreshSecondsKey = "GpuLxc:Metrics:RefreshSeconds";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Max(1, configuration.GetValue(RefreshSecondsKey, 15))));
        do
        {
            metrics.Update(await ReadAttachmentsAsync(stoppingToken), await ReadGpusAsync(stoppingToken), await ReadJobsAsync(stoppingToken));
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task<IReadOnlyList<Attachment>?> ReadAttachmentsAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await attachments.ListAttachmentsAsync(cancellationToken);
        }
        catch (ProblemException e) when (e.Problem == ContainerProblems.NoBackend)
        {
            return [];
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogFailed(logger, "attachments", e);
            return null;
        }
    }

    private async Task<IReadOnlyList<Gpu>?> ReadGpusAsync(CancellationToken cancellationToken)
    {
        try
        {
            return (await inventory.ListAsync(refresh: false, cancellationToken)).Gpus;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogFailed(logger, "GPUs", e);
            return null;
        }
    }

    private async Task<IReadOnlyDictionary<JobState, int>?> ReadJobsAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await jobs.CountByStateAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogFailed(logger, "jobs", e);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading {What} for the metrics failed")]
    private static partial void LogFailed(ILogger logger, string what, Exception exception);
}
