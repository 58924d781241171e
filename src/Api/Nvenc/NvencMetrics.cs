using System.Diagnostics.Metrics;

namespace GpuLxc.Api.Nvenc;

/// <summary>
/// The NVENC budget as <see cref="System.Diagnostics.Metrics"/> gauges on the <c>GpuLxc.Nvenc</c> meter, tagged
/// with the budget, for whichever exporter serves <c>/metrics</c>. They report the guard's last status (refreshed
/// every few seconds and on every <c>GET /api/v1/nvenc</c>).
/// </summary>
public sealed class NvencMetrics : IDisposable
{
    public const string MeterName = "GpuLxc.Nvenc";

    private readonly Meter _meter;

    public NvencMetrics(IMeterFactory meters, NvencGuard guard)
    {
        _meter = meters.Create(MeterName);
        Gauge("gpulxc_nvenc_limit", "Concurrent NVENC sessions the budget allows (absent when unrestricted)", b => b.Limit);
        Gauge("gpulxc_nvenc_in_use", "max(active leases, sessions the driver reports)", b => b.InUse);
        Gauge("gpulxc_nvenc_available", "Sessions that can still be granted", b => b.Available);
        Gauge("gpulxc_nvenc_leases", "Active leases", b => b.Leases);
        Gauge("gpulxc_nvenc_observed", "Encode sessions the driver reports", b => b.Observed);

        void Gauge(string name, string description, Func<NvencBudget, int?> value) =>
            _meter.CreateObservableGauge(name, () =>
                (guard.LastStatus?.Budgets ?? [])
                    .Where(b => value(b) is not null)
                    .Select(b => new Measurement<int>(value(b)!.Value, new KeyValuePair<string, object?>("budget", b.Key))),
                unit: "{session}", description: description);
    }

    public void Dispose() => _meter.Dispose();
}
