using Hangfire.Storage;
using Hangfire.States;
using Microsoft.Data.Sqlite;

namespace GpuLxc.Hangfire.Sqlite.Tests;

public sealed class SqliteWriteTransactionFacts : IDisposable
{
    private readonly TestStore _store = new();

    public void Dispose() => _store.Dispose();

    [Fact]
    public void CreateWriteTransaction_WritesNothing_UntilCommitted()
    {
        using var connection = _store.Connect();
        using var transaction = (JobStorageTransaction)connection.CreateWriteTransaction();
        transaction.AddToSet("s", "a");
        transaction.IncrementCounter("c");
        Assert.Equal(0, _store.Count("SELECT COUNT(*) FROM \"Set\"") + _store.Count("SELECT COUNT(*) FROM Counter"));
        transaction.Commit();
        Assert.Equal(2, _store.Count("SELECT COUNT(*) FROM \"Set\"") + _store.Count("SELECT COUNT(*) FROM Counter"));
    }

    [Fact]
    public void Commit_LeavesNothingBehind_WhenItFailsPartWay()
    {
        var id = _store.CreateJob();
        using var connection = _store.Connect();
        using var transaction = (JobStorageTransaction)connection.CreateWriteTransaction();
        transaction.AddToSet("s", "a");
        transaction.SetJobState(id, new EnqueuedState());
        transaction.AddToQueue("default", id);
        // A job that does not exist: its queue row violates the foreign key, after the commands before it ran.
        transaction.AddToQueue("default", "987654");
        transaction.IncrementCounter("c");

        Assert.Throws<SqliteException>(transaction.Commit);
        Assert.Equal(0, _store.Count("SELECT COUNT(*) FROM \"Set\""));
        Assert.Equal(0, _store.Count("SELECT COUNT(*) FROM JobQueue"));
        Assert.Equal(0, _store.Count("SELECT COUNT(*) FROM State"));
        Assert.Equal(0, _store.Count("SELECT COUNT(*) FROM Counter"));
        Assert.Equal(0, _store.Count($"SELECT COUNT(*) FROM Job WHERE Id = {id} AND StateName IS NOT NULL"));
    }

    [Fact]
    public void SetJobState_MovesTheCurrentState_WhileAddJobStateOnlyRecordsHistory()
    {
        var id = _store.CreateJob();
        _store.Write(t =>
        {
            t.SetJobState(id, new EnqueuedState("q"));
            t.AddJobState(id, TestStates.Processing("server"));
        });
        using var connection = _store.Connect();
        Assert.Equal(EnqueuedState.StateName, connection.GetJobData(id)!.State);
        Assert.Equal("q", connection.GetStateData(id)!.Data["Queue"]);
        var history = _store.Monitoring.JobDetails(id)!.History;
        Assert.Equal([ProcessingState.StateName, EnqueuedState.StateName], history.Select(h => h.StateName));
    }

    [Fact]
    public void SetJobParameter_OverwritesTheValue_InTheTransaction()
    {
        var id = _store.CreateJob();
        _store.Write(t => t.SetJobParameter(id, "p", "1"));
        _store.Write(t => t.SetJobParameter(id, "p", "2"));
        using var connection = _store.Connect();
        Assert.Equal("2", connection.GetJobParameter(id, "p"));
    }

    [Fact]
    public void RemoveFromQueue_DeletesTheQueueRowWithTheStateChange_WhenCommitted()
    {
        var id = _store.Enqueue();
        using var connection = _store.Connect();
        var fetched = connection.TryFetch(["default"])!;
        using (var transaction = (JobStorageTransaction)connection.CreateWriteTransaction())
        {
            transaction.SetJobState(id, new SucceededState(null, 1, 1));
            transaction.RemoveFromQueue(fetched);
            Assert.Equal(1, _store.Count("SELECT COUNT(*) FROM JobQueue"));
            transaction.Commit();
        }

        Assert.Equal(0, _store.Count("SELECT COUNT(*) FROM JobQueue"));
        fetched.Dispose();
        Assert.Equal(0, _store.Count("SELECT COUNT(*) FROM JobQueue"));
        Assert.Equal(SucceededState.StateName, connection.GetJobData(id)!.State);
    }

    [Fact]
    public void RemoveFromQueue_LeavesTheJobFetchedAndDisposable_WhenTheCommitFails()
    {
        var id = _store.Enqueue();
        using var connection = _store.Connect();
        var fetched = connection.TryFetch(["default"])!;
        using (var transaction = (JobStorageTransaction)connection.CreateWriteTransaction())
        {
            transaction.RemoveFromQueue(fetched);
            transaction.AddToQueue("default", "987654");
            Assert.Throws<SqliteException>(transaction.Commit);
        }

        Assert.Equal(1, _store.Count("SELECT COUNT(*) FROM JobQueue WHERE FetchedAt IS NOT NULL"));
        fetched.Dispose();
        Assert.Equal(id, connection.TryFetch(["default"])!.JobId);
    }

    [Fact]
    public void RemoveFromQueue_LeavesTheNewFetchAlone_WhenTheWorkerLostItsJob()
    {
        _store.Enqueue();
        using var connection = _store.Connect();
        var lost = connection.TryFetch(["default"])!;
        _store.Clock.Advance(_store.Storage.Options.InvisibilityTimeout + TimeSpan.FromSeconds(1));
        var taken = connection.TryFetch(["default"])!;
        using (var transaction = (JobStorageTransaction)connection.CreateWriteTransaction())
        {
            transaction.RemoveFromQueue(lost);
            transaction.Commit();
        }

        Assert.Equal(taken.FetchedAt, _store.Count("SELECT FetchedAt FROM JobQueue"));
    }

    [Fact]
    public async Task Commit_WakesAWaitingFetchOfAnotherStorageInstance_WhenItEnqueuesInThisProcess()
    {
        var second = _store.Create();
        using var waiting = _store.Connect(second);
        var fetch = Task.Run(() => waiting.FetchNextJob(["default"], CancellationToken.None));
        await Task.Delay(200);
        var id = _store.Enqueue();
        using var fetched = await fetch.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(id, fetched.JobId);
    }
}
