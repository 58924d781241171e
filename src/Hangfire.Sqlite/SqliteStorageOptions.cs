namespace GpuLxc.Hangfire.Sqlite;

/// <summary>Tuning for <see cref="SqliteStorage"/>. The defaults suit one host agent with a handful of workers.</summary>
public sealed class SqliteStorageOptions
{
    /// <summary>
    /// How long a fetched job stays invisible to other workers without a keep-alive. Running jobs renew it every
    /// fifth of this, so a long job is never handed out twice while its worker lives; a job whose process died is
    /// handed out again once it lapses.
    /// </summary>
    public TimeSpan InvisibilityTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Fallback poll of an empty queue. Workers in the process that enqueues are woken at once after the commit;
    /// the poll only matters for jobs enqueued by another process sharing the file.
    /// </summary>
    public TimeSpan QueuePollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Lease of a distributed lock; a held lock is renewed every third of it, a dead owner's lapses.</summary>
    public TimeSpan DistributedLockLifetime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often expired jobs, sets, lists, hashes, counters and stale locks are deleted.</summary>
    public TimeSpan ExpirationCheckInterval { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Rows deleted per write transaction by the expiration manager, so writers are never held up long.</summary>
    public int ExpirationBatchSize { get; set; } = 1000;

    /// <summary>How long a statement waits for another connection's write lock before it fails.</summary>
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The clock every timestamp comes from (UTC); tests replace it.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    internal void Validate()
    {
        Positive(InvisibilityTimeout, nameof(InvisibilityTimeout));
        Positive(QueuePollInterval, nameof(QueuePollInterval));
        Positive(DistributedLockLifetime, nameof(DistributedLockLifetime));
        Positive(ExpirationCheckInterval, nameof(ExpirationCheckInterval));
        Positive(BusyTimeout, nameof(BusyTimeout));
        if (ExpirationBatchSize <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ExpirationBatchSize), ExpirationBatchSize, "must be positive");
        }

        ArgumentNullException.ThrowIfNull(TimeProvider);
    }

    private static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(name, value, "must be positive");
        }
    }
}
