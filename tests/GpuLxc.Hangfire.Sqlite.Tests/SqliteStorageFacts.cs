using Hangfire.Storage;

namespace GpuLxc.Hangfire.Sqlite.Tests;

public sealed class SqliteStorageFacts : IDisposable
{
    private readonly TestStore _store = new();

    public void Dispose() => _store.Dispose();

    [Fact]
    public void HasFeature_AdvertisesExactlyWhatItImplements()
    {
        var storage = _store.Storage;
        Assert.True(storage.HasFeature(JobStorageFeatures.ExtendedApi));
        Assert.True(storage.HasFeature(JobStorageFeatures.JobQueueProperty));
        Assert.True(storage.HasFeature(JobStorageFeatures.ProcessesInsteadOfComponents));
        Assert.True(storage.HasFeature(JobStorageFeatures.Connection.BatchedGetFirstByLowest));
        Assert.True(storage.HasFeature(JobStorageFeatures.Connection.GetUtcDateTime));
        Assert.True(storage.HasFeature(JobStorageFeatures.Transaction.RemoveFromQueue(typeof(SqliteFetchedJob))));
        // Job ids come from the database at commit, so a transaction cannot hand one out early.
        Assert.False(storage.HasFeature(JobStorageFeatures.Transaction.CreateJob));
        Assert.False(storage.HasFeature(JobStorageFeatures.Transaction.AcquireDistributedLock));
        Assert.Contains(storage.GetStorageWideProcesses(), p => p is SqliteExpirationManager);
        Assert.True(storage.LinearizableReads);
    }

    [Fact]
    public void Constructor_InstallsEveryTableInWalMode_AndASecondInstanceSharesTheFile()
    {
        _ = _store.Storage;
        var second = _store.Create();
        Assert.Equal(second.DatabasePath, _store.Storage.DatabasePath);
        using var connection = _store.Storage.Database.Open();
        Assert.Equal("wal", connection.Scalar("PRAGMA journal_mode"));
        Assert.Equal(1L, connection.Scalar("PRAGMA foreign_keys"));
        foreach (var table in new[] { "Job", "State", "JobParameter", "JobQueue", "Server", "Set", "List", "Hash", "Counter", "Lock" })
        {
            Assert.True(SqliteSchema.HasTable(connection, table), table);
        }
    }

    [Fact]
    public void Constructor_Throws_WhenTheSchemaIsNewerThanThisBuild()
    {
        _ = _store.Storage;
        _store.Execute("PRAGMA user_version = 99");
        var refused = Assert.Throws<InvalidOperationException>(() => _store.Create());
        Assert.Contains("schema 99", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_Throws_WhenAnOptionIsNotPositive()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _store.Create(o => o.InvisibilityTimeout = TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => _store.Create(o => o.ExpirationBatchSize = 0));
        Assert.ThrowsAny<ArgumentException>(() => new SqliteStorage(" "));
    }

    [Fact]
    public void ExpirationManager_DeletesWhatExpiredAndWhatHangsOffIt_InBatches()
    {
        using var store = new TestStore(o => o.ExpirationBatchSize = 2);
        var expired = store.Enqueue();
        var kept = store.Enqueue(argument: 2);
        store.Write(t =>
        {
            t.ExpireJob(expired, TimeSpan.FromMinutes(1));
            t.SetJobParameter(expired, "p", "v");
            t.PersistJob(kept);
            for (var i = 0; i < 5; i++)
            {
                t.AddToSet("s", $"v{i}");
                t.InsertToList("l", $"v{i}");
            }

            t.ExpireSet("s", TimeSpan.FromMinutes(1));
            t.ExpireList("l", TimeSpan.FromMinutes(1));
            t.SetRangeInHash("h", [new("f", "v")]);
            t.ExpireHash("h", TimeSpan.FromHours(1));
            t.IncrementCounter("c", TimeSpan.FromMinutes(1));
            t.IncrementCounter("forever");
        });
        var manager = new SqliteExpirationManager(store.Storage.Database);
        Assert.Equal(0, manager.RemoveExpired());

        store.Clock.Advance(TimeSpan.FromMinutes(2));
        // Job, 5 set items, 5 list items, one counter; the job's states, parameters and queue row go by cascade.
        Assert.Equal(12, manager.RemoveExpired());
        Assert.Equal(1, store.Count("SELECT COUNT(*) FROM Job"));
        Assert.Equal(0, store.Count($"SELECT COUNT(*) FROM State WHERE JobId = {expired}"));
        Assert.Equal(0, store.Count($"SELECT COUNT(*) FROM JobParameter WHERE JobId = {expired}"));
        Assert.Equal(1, store.Count("SELECT COUNT(*) FROM JobQueue"));
        Assert.Equal(1, store.Count("SELECT COUNT(*) FROM Hash"));
        Assert.Equal(1, store.Count("SELECT COUNT(*) FROM Counter"));
    }
}
