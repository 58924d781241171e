using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Events;

/// <summary>Bound from <c>GpuLxc:Events</c>; checked by <see cref="EventOptionsValidator"/> when the service starts.</summary>
public sealed class EventOptions
{
    public const string Section = "GpuLxc:Events";

    /// <summary>The most events kept in <c>gpulxc.db</c> for clients that resume (100–10,000,000; default 10,000).</summary>
    public int RetainCount { get; set; } = 10_000;

    /// <summary>Events older than this many days are deleted (1–3650; default 30).</summary>
    public int RetainDays { get; set; } = 30;

    /// <summary>Seconds between the keep-alive comments of an idle event stream (1–300; default 15).</summary>
    public int KeepAliveSeconds { get; set; } = 15;
}

/// <summary>Refuses values out of range, naming the setting.</summary>
public sealed class EventOptionsValidator : IValidateOptions<EventOptions>
{
    public ValidateOptionsResult Validate(string? name, EventOptions options)
    {
        var failures = new List<string>();
        Check(failures, nameof(EventOptions.RetainCount), options.RetainCount, 100, 10_000_000);
        Check(failures, nameof(EventOptions.RetainDays), options.RetainDays, 1, 3650);
        Check(failures, nameof(EventOptions.KeepAliveSeconds), options.KeepAliveSeconds, 1, 300);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Check(List<string> failures, string key, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            failures.Add($"{EventOptions.Section}:{key} must be {min} to {max} (it is {value}).");
        }
    }
}
