using System.Diagnostics.Metrics;
using GpuLxc.Api.Auth;
using GpuLxc.Api.Infrastructure;
using Prometheus;

namespace GpuLxc.Api.Metrics;

/// <summary>
/// <c>GET /metrics</c> in Prometheus' text format, behind the <c>read</c> scope: every instrument of this service's
/// meters — ASP.NET Core's own HTTP and Kestrel metrics, and GpuLxc's (NVENC budget, attachments by drift, GPU
/// encoders) — through prometheus-net's meter adapter, into a registry of this service's own. GPU use per container
/// and GPU (<see cref="Usage.UsageMetrics"/>) is written into the same registry just before each collection.
/// </summary>
public static class MetricsEndpoint
{
    public static IServiceCollection AddMetricsEndpoint(this IServiceCollection services)
    {
        services.AddSingleton(_ => Prometheus.Metrics.NewCustomRegistry());
        services.AddEagerSingleton<MeterExport>();
        services.AddEagerSingleton<GpuLxcMetrics>();
        services.AddHostedService<MetricsRefresher>();
        return services;
    }

    public static WebApplication MapMetricsEndpoint(this WebApplication app)
    {
        app.MapMetrics("/metrics", app.Services.GetRequiredService<CollectorRegistry>())
            .RequireAuthorization(Scopes.PolicyName(Scopes.Read))
            .WithMetadata(new RequiredScope(Scopes.Read));
        return app;
    }

    /// <summary>Feeds the instruments of this service's meters (and no other's) into its registry.</summary>
    private sealed class MeterExport : IDisposable
    {
        private readonly IDisposable _adapter;

        public MeterExport(IMeterFactory meters, CollectorRegistry registry) =>
            _adapter = MeterAdapter.StartListening(new MeterAdapterOptions
            {
                Registry = registry,
                MetricFactory = Prometheus.Metrics.WithCustomRegistry(registry),
                InstrumentFilterPredicate = instrument => instrument.Meter.Scope == meters,
            });

        public void Dispose() => _adapter.Dispose();
    }
}
