using System.Diagnostics;

namespace GpuLxc.Bench.JobStorage;

public static class BenchJobs
{
    private static TaskCompletionSource _done = new();
    private static int _remaining;

    public static TimeSpan LastLatency { get; private set; }

    public static Task Expect(int count)
    {
        _done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _remaining, count);
        return _done.Task;
    }

    public static void Started(long enqueuedTimestamp)
    {
        if (enqueuedTimestamp != 0)
        {
            LastLatency = Stopwatch.GetElapsedTime(enqueuedTimestamp);
        }

        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            _done.TrySetResult();
        }
    }
}
