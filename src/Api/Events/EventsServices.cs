using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;

namespace GpuLxc.Api.Events;

/// <summary>Registration of the event log, its writer, the webhooks and their HTTP client.</summary>
public static class EventsServices
{
    /// <summary>Retries after the first attempt; with <see cref="RetryDelay"/> doubling, the last is some 16 s after the first failure.</summary>
    public const int MaxRetries = 5;

    /// <summary>The first retry's delay; each next one doubles it, with jitter.</summary>
    public static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    /// <summary>One attempt's limit: a receiver that takes longer counts as unreachable for that attempt.</summary>
    public static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(10);

    public static IServiceCollection AddEvents(this IServiceCollection services)
    {
        services.AddOptions<EventOptions>().BindConfiguration(EventOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<EventOptions>, EventOptionsValidator>();
        services.AddOptions<WebhookOptions>().BindConfiguration(WebhookOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<WebhookOptions>, WebhookOptionsValidator>();

        services.AddSingleton<EventStore>();
        services.AddSingleton<EventLog>();
        services.AddSingleton<IEventPublisher>(sp => sp.GetRequiredService<EventLog>());
        services.AddSingleton<EventMetrics>();
        services.AddSingleton<Webhooks>();
        services.AddHostedService(sp => sp.GetRequiredService<Webhooks>());
        services.AddHostedService<EventWriter>();

        // Retry outside, timeout per attempt inside: 5xx, 408, 429 (honouring Retry-After), connection failures and
        // timed-out attempts are retried; any other answer is final.
        services.AddHttpClient(Webhooks.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .AddResilienceHandler("webhook", pipeline =>
            {
                pipeline.AddRetry(new HttpRetryStrategyOptions
                {
                    MaxRetryAttempts = MaxRetries,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                    Delay = RetryDelay,
                });
                pipeline.AddTimeout(AttemptTimeout);
            });
        return services;
    }
}
