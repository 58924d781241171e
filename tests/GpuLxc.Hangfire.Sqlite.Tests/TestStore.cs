using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using Hangfire.Storage;
using Microsoft.Data.Sqlite;

namespace GpuLxc.Hangfire.Sqlite.Tests;

/// <summary>A storage on a fresh file in a temporary directory, on a clock the test moves.</summary>
public sealed class TestStore : IDisposable
{
    private readonly Lazy<SqliteStorage> _storage;

    public TestStore(Action<SqliteStorageOptions>? configure = null)
    {
        _storage = new Lazy<SqliteStorage>(() => Create(configure));
    }

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("gpulxc-hangfire-").FullName;

    public string DatabasePath => Path.Join(Directory, "jobs.db");

    public ManualClock Clock { get; } = new();

    public SqliteStorage Storage => _storage.Value;

    internal JobStorageMonitor Monitoring => (JobStorageMonitor)Storage.GetMonitoringApi();

    /// <summary>Another storage instance on the same file, as a second process would have.</summary>
    public SqliteStorage Create(Action<SqliteStorageOptions>? configure = null)
    {
        var options = new SqliteStorageOptions { TimeProvider = Clock, QueuePollInterval = TimeSpan.FromSeconds(30) };
        configure?.Invoke(options);
        return new SqliteStorage(DatabasePath, options);
    }

    internal SqliteStorageConnection Connect(SqliteStorage? storage = null) => (SqliteStorageConnection)(storage ?? Storage).GetConnection();

    public string CreateJob(int argument = 1, TimeSpan? expireIn = null)
    {
        using var connection = Storage.GetConnection();
        return connection.CreateExpiredJob(
            Job.FromExpression(() => TestJobs.Work(argument)),
            new Dictionary<string, string?> { ["CurrentCulture"] = "" },
            Clock.GetUtcNow().UtcDateTime,
            expireIn ?? TimeSpan.FromHours(1));
    }

    /// <summary>Creates a job and puts it in <paramref name="queue"/> in the Enqueued state, as Hangfire does.</summary>
    public string Enqueue(string queue = "default", int argument = 1)
    {
        var id = CreateJob(argument);
        Write(t =>
        {
            t.SetJobState(id, new EnqueuedState(queue));
            t.AddToQueue(queue, id);
        });
        return id;
    }

    public void Write(Action<JobStorageTransaction> body, SqliteStorage? storage = null)
    {
        using var connection = (storage ?? Storage).GetConnection();
        using var transaction = (JobStorageTransaction)connection.CreateWriteTransaction();
        body((JobStorageTransaction)transaction);
        transaction.Commit();
    }

    /// <summary>A scalar straight from the file, to see what the storage wrote.</summary>
    public long Count(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar() ?? 0L, System.Globalization.CultureInfo.InvariantCulture);
    }

    public void Execute(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A server thread may still hold the file for a moment; the temp directory is left behind then.
        }
    }
}

/// <summary>A clock the test moves; timers still run on real time.</summary>
public sealed class ManualClock : TimeProvider
{
    private long _ticks = new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero).UtcTicks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}

public static class TestJobs
{
    public static void Work(int argument) => GC.KeepAlive(argument);
}

/// <summary>States whose constructors Hangfire keeps to itself, with the data Hangfire would write.</summary>
public static class TestStates
{
    public static IState Processing(string serverId) => new Named(ProcessingState.StateName, new Dictionary<string, string>
    {
        ["StartedAt"] = JobHelper.SerializeDateTime(DateTime.UtcNow),
        ["ServerId"] = serverId,
        ["WorkerId"] = "worker-1",
    });

    private sealed class Named(string name, Dictionary<string, string> data) : IState
    {
        public string Name => name;

        public string? Reason => null;

        public bool IsFinal => false;

        public bool IgnoreJobLoadException => false;

        public Dictionary<string, string> SerializeData() => data;
    }
}
