using System.Collections.Concurrent;

namespace GpuLxc.Hangfire.Sqlite;

/// <summary>
/// Wakes the workers of this process waiting on a database file as soon as a commit enqueued a job, so an enqueued
/// job starts within milliseconds instead of at the next poll. One per file, shared by every storage instance on it.
/// </summary>
internal sealed class QueueSignal
{
    private static readonly ConcurrentDictionary<string, QueueSignal> ByPath = new(StringComparer.Ordinal);

    private TaskCompletionSource _next = NewSource();

    public static QueueSignal For(string path) => ByPath.GetOrAdd(path, static _ => new QueueSignal());

    /// <summary>
    /// The wake-up to wait for. Take it before looking at the queue: a commit that lands after the look completes it,
    /// so no enqueue is missed between the look and the wait.
    /// </summary>
    public Task Next => Volatile.Read(ref _next).Task;

    public void Notify() => Interlocked.Exchange(ref _next, NewSource()).TrySetResult();

    private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
