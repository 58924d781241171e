using System.Diagnostics.Metrics;
using GpuLxc.Api.Auth;
using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.Usage;
using Prometheus;

namespace GpuLxc.Api.Metrics;

/// <summary>
/// <c>GET /metrics</c> in Prometheus' text format, behind the <c>read</c> scope: every instrument of this service's
/// meters — ASP.NET Core's own HTTP and Kestrel metrics, and GpuLxc's (NVENC budget, attachments by drift, GPU
/// encoders) — through prometheus-net's meter adapter, into a registry of this service's own.
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

    /// <summary>
    /// Maps <c>/metrics</c>. Before the registry is collected, the GPU use is brought up to date (one shared NVML sweep,
    /// kept briefly: scrapes, the API and the NVENC guard never multiply NVML calls); the other gauges report
    /// <see cref="MetricsRefresher"/>'s snapshot.
    /// </summary>
    public static WebApplication MapMetricsEndpoint(this WebApplication app)
    {
        var usage = app.Services.GetRequiredService<GpuUsageReader>();
        var scrape = ((IEndpointRouteBuilder)app).CreateApplicationBuilder()
            .Use(async (context, next) =>
            {
                await usage.ReadAsync(context.RequestAborted);
                await next(context);
            })
            .UseMiddleware<MetricServerMiddleware>(new MetricServerMiddleware.Settings { Registry = app.Services.GetRequiredService<CollectorRegistry>() })
            .Build();
        app.Map("/metrics", scrape)
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
