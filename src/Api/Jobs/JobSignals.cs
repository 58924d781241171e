using System.Collections.Concurrent;

namespace GpuLxc.Api.Jobs;

/// <summary>Wakes long-polls when a job changes (state, steps, log) in this process.</summary>
public sealed class JobSignals
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _next = new(StringComparer.Ordinal);

    /// <summary>
    /// A task that completes at the job's next change. Take it before reading the job, so that a change between the
    /// read and the wait is not missed.
    /// </summary>
    public Task NextChange(string jobId) =>
        _next.GetOrAdd(jobId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    public void Notify(string jobId)
    {
        if (_next.TryRemove(jobId, out var change))
        {
            change.TrySetResult();
        }
    }
}
