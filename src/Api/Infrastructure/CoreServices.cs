namespace GpuLxc.Api.Infrastructure;

/// <summary>
/// What every feature shares, registered once here rather than inside whichever feature happened to need it first:
/// the data directory, <see cref="GpuLxcDatabase"/> (attachments, audit, leases, jobs) and the clock. A feature's
/// <c>AddX()</c> can then be dropped or reordered without breaking another feature at run time.
/// </summary>
public static class CoreServices
{
    public static IServiceCollection AddGpuLxcCore(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddDataDirectory(configuration);
        services.AddSingleton<GpuLxcDatabase>();
        services.AddSingleton(TimeProvider.System);
        return services;
    }
}
