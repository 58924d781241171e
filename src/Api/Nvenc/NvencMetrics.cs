using System.Diagnostics.Metrics;

namespace GpuLxc.Api.Nvenc;

/// <summary>
/// The NVENC budget as <see cref="System.Diagnostics.Metrics"/> gauges on the <c>GpuLxc.Nvenc</c> meter, tagged
/// with the budget (<c>/metrics</c> names them <c>gpulxc_nvenc_limit</c>, <c>gpulxc_nvenc_in_use</c>, …). They report the guard's last status (refreshed
/// every few seconds and on every <c>GET /api/v1/nvenc</c>).
/// </summary>
public sealed class NvencMetrics : IDisposable
{
    public const string MeterName = "GpuLxc.Nvenc";

    private readonly Meter _meter;

    public NvencMetrics(IMeterFactory meters, NvencGuard guard)
    {
        _meter = meters.Create(MeterName);
        Gauge("limit", "Concurrent NVENC sessions the budget allows (absent when unrestricted)", b => b.Limit);
        Gauge("in_use", "sum over holders of max(active leases, observed sessions)", b => b.InUse);
        Gauge("available", "Sessions that can still be granted", b => b.Available);
        Gauge("leases", "Active leases", b => b.Leases);
        Gauge("observed", "Encode sessions the driver reports", b => b.Observed);

        void Gauge(string name, string description, Func<NvencBudget, int?> value) =>
            _meter.CreateObservableGauge(name, () =>
                (guard.LastStatus?.Budgets ?? [])
                    .Where(b => value(b) is not null)
                    .Select(b => new Measurement<int>(value(b)!.Value, new KeyValuePair<string, object?>("budget", b.Key))),
                unit: "{session}", description: description);
    }

    public void Dispose() => _meter.Dispose();
}
