namespace GpuLxc.Api.Infrastructure;

/// <summary>Resolves a singleton when the host starts, so that its constructor's work and failures happen then.</summary>
internal sealed class EagerSingleton<T>(IServiceProvider services) : IHostedService
    where T : notnull
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        services.GetRequiredService<T>();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

public static class EagerSingletonExtensions
{
    /// <summary>Registers <typeparamref name="T"/> as a singleton built at start-up rather than on first use.</summary>
    public static IServiceCollection AddEagerSingleton<T>(this IServiceCollection services)
        where T : class
    {
        services.AddSingleton<T>();
        return services.AddHostedService<EagerSingleton<T>>();
    }
}
