using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Nvenc;

/// <summary>Bound from <c>GpuLxc:Nvenc</c>; checked by <see cref="NvencOptionsValidator"/> when the service starts.</summary>
public sealed class NvencOptions
{
    public const string Section = "GpuLxc:Nvenc";
    public const string HostScope = "host";
    public const string GpuScope = "gpu";

    /// <summary><c>host</c> (one budget for the machine, as NVIDIA enforces) or <c>gpu</c>; any letter case.</summary>
    public string Scope { get; set; } = HostScope;

    /// <summary>The operator's session limit (at least 1); wins over the driver table.</summary>
    public int? LimitOverride { get; set; }

    /// <summary>Per-container caps on concurrent leases, each at least 1: <c>GpuLxc__Nvenc__Quotas__101=2</c>.</summary>
    public Dictionary<string, int> Quotas { get; init; } = new(StringComparer.Ordinal);

    /// <summary>How long a lease lives when the request names no TTL, in seconds (<see cref="LeaseTtl"/>'s range).</summary>
    public int DefaultTtlSeconds { get; set; } = 60;

    /// <summary>Whether each GPU has its own budget (<c>Scope = gpu</c>).</summary>
    public bool PerGpu => string.Equals(Scope.Trim(), GpuScope, StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// Refuses settings that would otherwise be read as something else: a <c>Scope</c> other than <c>host</c> or
/// <c>gpu</c> (<c>gpus</c> used to mean <c>host</c>), a default TTL outside what a request may ask for, a limit or
/// quota below 1. Each failure names the full setting and what it may be.
/// </summary>
public sealed class NvencOptionsValidator : IValidateOptions<NvencOptions>
{
    public ValidateOptionsResult Validate(string? name, NvencOptions options)
    {
        var failures = new List<string>();
        var scope = options.Scope.Trim().ToLowerInvariant();
        if (scope is not (NvencOptions.HostScope or NvencOptions.GpuScope))
        {
            failures.Add($"{NvencOptions.Section}:Scope is '{options.Scope}': use '{NvencOptions.HostScope}' (default) or '{NvencOptions.GpuScope}'.");
        }

        if (options.DefaultTtlSeconds is < LeaseTtl.MinSeconds or > LeaseTtl.MaxSeconds)
        {
            failures.Add($"{NvencOptions.Section}:DefaultTtlSeconds is {options.DefaultTtlSeconds}: use {LeaseTtl.MinSeconds} to {LeaseTtl.MaxSeconds} (default 60).");
        }

        if (options.LimitOverride is < 1)
        {
            failures.Add($"{NvencOptions.Section}:LimitOverride is {options.LimitOverride}: use 1 or more, or leave it unset to follow the driver.");
        }

        foreach (var (container, quota) in options.Quotas.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            if (quota < 1)
            {
                failures.Add($"{NvencOptions.Section}:Quotas:{container} is {quota}: use 1 or more, or remove it for no per-container cap.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

public static class NvencOptionsRegistration
{
    /// <summary>Binds <see cref="NvencOptions"/> and checks them at start: a bad value stops the service with its setting named.</summary>
    public static IServiceCollection AddNvencOptions(this IServiceCollection services)
    {
        services.AddOptions<NvencOptions>().BindConfiguration(NvencOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<NvencOptions>, NvencOptionsValidator>());
        return services;
    }
}
