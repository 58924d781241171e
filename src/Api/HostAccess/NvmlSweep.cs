namespace GpuLxc.Api.HostAccess;

/// <summary>One NVML sweep of every device, and when it was taken.</summary>
/// <param name="SampledAt">When the sweep was read (the service's clock).</param>
/// <param name="Devices">Each device's sample, by NVML index; empty when NVML is unavailable.</param>
public sealed record NvmlSweepResult(DateTimeOffset SampledAt, IReadOnlyList<NvmlSample> Devices)
{
    /// <summary>The sample of the device at NVML index <paramref name="index"/>, or null.</summary>
    public NvmlSample? Device(int index) => Devices.FirstOrDefault(d => d.Index == index);
}

/// <summary>
/// The one place NVML's live counters are read: a sweep is kept for <see cref="MaxAge"/>, and callers that ask while
/// one is being read wait for it, so that the NVENC guard, <c>GET /api/v1/gpus</c>, the usage routes and a
/// <c>/metrics</c> scrape together cost at most one sweep per <see cref="MaxAge"/>.
/// </summary>
public sealed class NvmlSweep(INvml nvml, TimeProvider time)
{
    /// <summary>How long a sweep serves every caller: short enough that a session that just ended is gone at the next read.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromMilliseconds(500);

    private readonly Lock _gate = new();
    private NvmlSweepResult? _last;

    /// <summary>The current sweep: the last one while it is younger than <see cref="MaxAge"/>, else a new one.</summary>
    public NvmlSweepResult Current()
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            if (_last is { } last && now - last.SampledAt < MaxAge && now >= last.SampledAt)
            {
                return last;
            }

            // NVML's calls are synchronous and short (a sweep of a GPU is well under a millisecond): reading under the
            // lock is what makes concurrent callers share one sweep.
            _last = new NvmlSweepResult(now, nvml.UnavailableReason is null ? nvml.Sample() : []);
            return _last;
        }
    }
}
