using System.Collections.Concurrent;

namespace GpuLxc.Api.Jobs;

/// <summary>
/// The jobs this process runs now, each with the source whose cancellation kills its running command's process
/// tree. The database's <c>cancel_requested</c> covers jobs that have not started: those never start.
/// </summary>
public sealed class JobCancellations
{
    private readonly ConcurrentDictionary<string, CancellationTokenSource> _running = new(StringComparer.Ordinal);

    /// <summary>This process: the runner recorded on the jobs it claims, so that a later process knows them as orphans.</summary>
    public string Instance { get; } = Guid.NewGuid().ToString("N");

    public CancellationTokenSource Register(string jobId, CancellationToken shutdown)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(shutdown);
        _running[jobId] = source;
        return source;
    }

    /// <summary>Cancels the job's work if it runs in this process.</summary>
    public bool Cancel(string jobId)
    {
        if (!_running.TryGetValue(jobId, out var source))
        {
            return false;
        }

        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The job finished a moment ago.
        }

        return true;
    }

    public void Remove(string jobId) => _running.TryRemove(jobId, out _);
}
