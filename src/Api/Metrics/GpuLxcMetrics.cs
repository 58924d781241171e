using System.Diagnostics.Metrics;
using GpuLxc.Api.Attachments;
using GpuLxc.Api.Inventory;

namespace GpuLxc.Api.Metrics;

/// <summary>
/// Gauges of the host's state on the <c>GpuLxc</c> meter: attachments by drift status and each GPU's encoder
/// (<c>/metrics</c> names them <c>gpulxc_attachments</c>, <c>gpulxc_gpu_encoder_utilization</c>, <c>gpulxc_gpu_encoder_sessions</c>).
/// They report the last snapshot <see cref="MetricsRefresher"/> took, so that a scrape never waits on the host.
/// </summary>
public sealed class GpuLxcMetrics : IDisposable
{
    public const string MeterName = "GpuLxc";

    private readonly Meter _meter;
    private IReadOnlyList<Attachment> _attachments = [];
    private IReadOnlyList<Gpu> _gpus = [];

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
    }

    public void Update(IReadOnlyList<Attachment>? attachments, IReadOnlyList<Gpu>? gpus)
    {
        _attachments = attachments ?? _attachments;
        _gpus = gpus ?? _gpus;
    }

    public void Dispose() => _meter.Dispose();
}

/// <summary>Takes the snapshot behind <see cref="GpuLxcMetrics"/> every <c>GpuLxc:Metrics:RefreshSeconds</c> (default 15).</summary>
public sealed partial class MetricsRefresher(
    GpuLxcMetrics metrics, AttachmentService attachments, GpuInventory inventory, IConfiguration configuration, ILogger<MetricsRefresher> logger)
    : BackgroundService
{
    public const string RefreshSecondsKey = "GpuLxc:Metrics:RefreshSeconds";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Max(1, configuration.GetValue(RefreshSecondsKey, 15))));
        do
        {
            metrics.Update(await ReadAttachmentsAsync(stoppingToken), await ReadGpusAsync(stoppingToken));
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task<IReadOnlyList<Attachment>?> ReadAttachmentsAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await attachments.ListAttachmentsAsync(cancellationToken);
        }
        catch (AttachmentProblemException)
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading {What} for the metrics failed")]
    private static partial void LogFailed(ILogger logger, string what, Exception exception);
}
