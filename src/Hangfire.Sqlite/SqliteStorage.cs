using Hangfire;
using Hangfire.Logging;
using Hangfire.Server;
using Hangfire.Storage;

namespace GpuLxc.Hangfire.Sqlite;

/// <summary>
/// Hangfire job storage in one SQLite file (WAL). Several storage instances, in one process or several, may share
/// the file: queues, locks and servers are coordinated through the database; workers of the enqueuing process are
/// woken at once, those of other processes at the next <see cref="SqliteStorageOptions.QueuePollInterval"/>.
/// </summary>
public sealed class SqliteStorage : JobStorage
{
    private static readonly string[] Features =
    [
        JobStorageFeatures.ExtendedApi,
        JobStorageFeatures.JobQueueProperty,
        JobStorageFeatures.ProcessesInsteadOfComponents,
        JobStorageFeatures.Connection.GetUtcDateTime,
        JobStorageFeatures.Connection.GetSetContains,
        JobStorageFeatures.Connection.LimitedGetSetCount,
        JobStorageFeatures.Connection.BatchedGetFirstByLowest,
        JobStorageFeatures.Transaction.SetJobParameter,
        JobStorageFeatures.Transaction.RemoveFromQueue(typeof(SqliteFetchedJob)),
        JobStorageFeatures.Monitoring.DeletedStateGraphs,
        JobStorageFeatures.Monitoring.AwaitingJobs,
    ];

    public SqliteStorage(string databasePath, SqliteStorageOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(databasePath);
        Options = options ?? new SqliteStorageOptions();
        Options.Validate();
        Database = new SqliteDatabase(databasePath, Options);
        Signal = QueueSignal.For(Database.Path);
        SqliteSchema.Install(Database);
    }

    public SqliteStorageOptions Options { get; }

    /// <summary>The database file's full path.</summary>
    public string DatabasePath => Database.Path;

    /// <summary>Reads see every committed write: there is one file and no replica.</summary>
    public override bool LinearizableReads => true;

    internal SqliteDatabase Database { get; }

    internal QueueSignal Signal { get; }

    public override IStorageConnection GetConnection() => new SqliteStorageConnection(this);

    public override IMonitoringApi GetMonitoringApi() => new SqliteMonitoringApi(this);

    public override bool HasFeature(string featureId)
    {
        ArgumentNullException.ThrowIfNull(featureId);
        return Features.Contains(featureId, StringComparer.OrdinalIgnoreCase) || base.HasFeature(featureId);
    }

    public override IEnumerable<IBackgroundProcess> GetStorageWideProcesses()
    {
        yield return new SqliteExpirationManager(Database);
    }

    public override void WriteOptionsToLog(ILog logger)
    {
        ArgumentNullException.ThrowIfNull(logger);
        logger.Info($"Using SQLite job storage at {Database.Path}: invisibility timeout {Options.InvisibilityTimeout}, queue poll {Options.QueuePollInterval}, lock lifetime {Options.DistributedLockLifetime}, expiration check every {Options.ExpirationCheckInterval}.");
    }

    public override string ToString() => $"SQLite job storage: {Database.Path}";
}

/// <summary>Deletes what has expired, a batch per short transaction, and waits for the next round.</summary>
internal sealed class SqliteExpirationManager(SqliteDatabase database) : IBackgroundProcess
{
    private static readonly ILog Log = LogProvider.GetLogger(typeof(SqliteExpirationManager));

    // Jobs go first: their states, parameters and queue rows follow by ON DELETE CASCADE.
    private static readonly string[] Tables = ["Job", "List", "\"Set\"", "Hash", "Counter", "Lock"];

    public void Execute(BackgroundProcessContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var removed = RemoveExpired();
        if (removed > 0)
        {
            Log.Debug($"Removed {removed} expired records.");
        }

        context.Wait(database.Options.ExpirationCheckInterval);
    }

    /// <summary>One pass over every table; returns the number of rows deleted.</summary>
    internal long RemoveExpired()
    {
        long total = 0;
        foreach (var table in Tables)
        {
            int deleted;
            do
            {
                deleted = database.Write(connection => connection.Execute(
                    $"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE ExpireAt < $now LIMIT $batch)",
                    ("$now", database.Now), ("$batch", database.Options.ExpirationBatchSize)));
                total += deleted;
            }
            while (deleted == database.Options.ExpirationBatchSize);
        }

        return total;
    }

    public override string ToString() => "SQLite expiration manager";
}
