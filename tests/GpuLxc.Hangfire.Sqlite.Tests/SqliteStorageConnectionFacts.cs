using System.Diagnostics;
using Hangfire;
using Hangfire.Server;
using Hangfire.States;
using Hangfire.Storage;

namespace GpuLxc.Hangfire.Sqlite.Tests;

public sealed class SqliteStorageConnectionFacts : IDisposable
{
    private readonly TestStore _store = new();

    public void Dispose() => _store.Dispose();

    // ---- fetch ----

    [Fact]
    public async Task FetchNextJob_WakesAtOnce_WhenAJobIsCommittedDuringTheWait()
    {
        using var connection = _store.Connect();
        using var cancellation = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var fetch = Task.Run(() => connection.FetchNextJob(["default"], cancellation.Token));

        await Task.Delay(300);
        Assert.False(fetch.IsCompleted);

        var enqueued = Stopwatch.StartNew();
        var id = _store.Enqueue();
        using var fetched = await fetch;
        // The fallback poll is 30 s here: only the in-process wake-up explains a fetch this fast.
        Assert.True(enqueued.Elapsed < TimeSpan.FromSeconds(5), $"fetched after {enqueued.Elapsed}");
        Assert.Equal(id, fetched.JobId);
    }

    [Fact]
    public async Task FetchNextJob_FindsTheJobAtThePoll_WhenAnotherProcessEnqueuedIt()
    {
        using var store = new TestStore(o => o.QueuePollInterval = TimeSpan.FromMilliseconds(200));
        using var connection = store.Connect();
        var fetch = Task.Run(() => connection.FetchNextJob(["default"], CancellationToken.None));
        await Task.Delay(100);
        // Written behind the storage's back, as another process would: no in-process wake-up.
        var id = store.CreateJob();
        store.Execute($"INSERT INTO JobQueue (JobId, Queue) VALUES ({id}, 'default')");
        using var fetched = await fetch.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(id, fetched.JobId);
    }

    [Fact]
    public async Task FetchNextJob_StopsWaiting_WhenCancelled()
    {
        using var connection = _store.Connect();
        using var cancellation = new CancellationTokenSource();
        var fetch = Task.Run(() => connection.FetchNextJob(["default"], cancellation.Token));
        await Task.Delay(100);
        await cancellation.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => fetch.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void FetchNextJob_Throws_WhenNoQueueIsGiven()
    {
        using var connection = _store.Connect();
        Assert.Throws<ArgumentException>(() => connection.FetchNextJob([], CancellationToken.None));
    }

    [Fact]
    public void FetchNextJob_ReturnsJobsFirstInFirstOut_WithinAQueue()
    {
        var ids = Enumerable.Range(1, 5).Select(i => _store.Enqueue(argument: i)).ToList();
        using var connection = _store.Connect();
        var fetched = ids.Select(_ => connection.FetchNextJob(["default"], CancellationToken.None)).ToList();
        Assert.Equal(ids, fetched.Select(f => f.JobId));
        fetched.ForEach(f => f.RemoveFromQueue());
    }

    [Fact]
    public void FetchNextJob_TakesOnlyTheRequestedQueues_InTheOrderGiven()
    {
        var other = _store.Enqueue("other");
        var low = _store.Enqueue("low");
        var high = _store.Enqueue("high");
        using var connection = _store.Connect();

        using var first = connection.FetchNextJob(["high", "low"], CancellationToken.None);
        using var second = connection.FetchNextJob(["high", "low"], CancellationToken.None);
        Assert.Equal((high, "high"), (first.JobId, ((SqliteFetchedJob)first).Queue));
        Assert.Equal(low, second.JobId);
        Assert.Null(connection.TryFetch(["high", "low"]));
        Assert.Equal(other, connection.TryFetch(["other"])!.JobId);
    }

    [Fact]
    public void TryFetch_SkipsAFetchedJob_UntilItsInvisibilityTimeoutLapses()
    {
        var id = _store.Enqueue();
        using var connection = _store.Connect();
        var first = connection.TryFetch(["default"])!;

        _store.Clock.Advance(_store.Storage.Options.InvisibilityTimeout - TimeSpan.FromSeconds(1));
        Assert.Null(connection.TryFetch(["default"]));

        _store.Clock.Advance(TimeSpan.FromSeconds(2));
        var again = connection.TryFetch(["default"])!;
        Assert.Equal(id, again.JobId);
        Assert.True(again.FetchedAt > first.FetchedAt);
    }

    [Fact]
    public void RemoveFromQueueAndDispose_LeaveTheNewFetchAlone_WhenTheWorkerLostItsJob()
    {
        _store.Enqueue();
        using var connection = _store.Connect();
        var lost = connection.TryFetch(["default"])!;
        _store.Clock.Advance(_store.Storage.Options.InvisibilityTimeout + TimeSpan.FromSeconds(1));
        var taken = connection.TryFetch(["default"])!;

        lost.RemoveFromQueue();
        Assert.Equal(1, _store.Count("SELECT COUNT(*) FROM JobQueue WHERE FetchedAt IS NOT NULL"));
        lost.Dispose();
        Assert.Null(connection.TryFetch(["default"]));

        taken.RemoveFromQueue();
        Assert.Equal(0, _store.Count("SELECT COUNT(*) FROM JobQueue"));
    }

    // ---- jobs and parameters ----

    [Fact]
    public void GetJobData_ReturnsTheCreatedJob_WithItsParametersAndExpiry()
    {
        var id = _store.CreateJob(argument: 42, expireIn: TimeSpan.FromMinutes(10));
        using var connection = _store.Connect();
        connection.SetJobParameter(id, "RetryCount", "2");

        var data = connection.GetJobData(id)!;
        Assert.Equal(nameof(TestJobs.Work), data.Job.Method.Name);
        Assert.Equal(42, data.Job.Args[0]);
        Assert.Null(data.State);
        Assert.Null(data.LoadException);
        Assert.Equal(_store.Clock.GetUtcNow().UtcDateTime, data.CreatedAt);
        Assert.Equal("2", connection.GetJobParameter(id, "RetryCount"));
        Assert.Equal("2", data.ParametersSnapshot["RetryCount"]);
        Assert.Null(connection.GetJobParameter(id, "Missing"));
        var expireAt = _store.Count($"SELECT ExpireAt FROM Job WHERE Id = {id}");
        Assert.Equal(_store.Clock.GetUtcNow().AddMinutes(10).ToUnixTimeMilliseconds(), expireAt);
    }

    [Fact]
    public void CreateExpiredJob_NeverReusesAnId_WhenTheNewestJobWasDeleted()
    {
        var first = long.Parse(_store.CreateJob(), System.Globalization.CultureInfo.InvariantCulture);
        _store.Execute($"DELETE FROM Job WHERE Id = {first}");
        var second = long.Parse(_store.CreateJob(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(second > first);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("abc")]
    [InlineData("999999")]
    public void GetJobData_ReturnsNull_WhenTheJobIdIsUnknown(string id)
    {
        using var connection = _store.Connect();
        Assert.Null(connection.GetJobData(id));
        Assert.Null(connection.GetStateData(id));
        Assert.Null(connection.GetJobParameter(id, "x"));
    }

    [Fact]
    public void GetJobData_ReturnsALoadException_WhenThePayloadIsBroken()
    {
        var id = _store.CreateJob();
        _store.Execute($"UPDATE Job SET InvocationData = '{{not json' WHERE Id = {id}");
        using var connection = _store.Connect();
        var data = connection.GetJobData(id)!;
        Assert.Null(data.Job);
        Assert.NotNull(data.LoadException);
    }

    [Fact]
    public void GetStateData_ReturnsTheCurrentState()
    {
        var id = _store.Enqueue();
        _store.Write(t => t.SetJobState(id, new FailedState(new InvalidOperationException("boom")) { Reason = "it broke" }));
        using var connection = _store.Connect();
        var state = connection.GetStateData(id)!;
        Assert.Equal(FailedState.StateName, state.Name);
        Assert.Equal("it broke", state.Reason);
        Assert.Equal("boom", state.Data["ExceptionMessage"]);
        Assert.Equal(FailedState.StateName, connection.GetJobData(id)!.State);
    }

    // ---- sets ----

    [Fact]
    public void AddToSet_KeepsOneScorePerValue_AndRangeReadsAreInclusiveByScore()
    {
        _store.Write(t =>
        {
            t.AddToSet("s", "a", 3);
            t.AddToSet("s", "b", 1);
            t.AddToSet("s", "c", 2);
            t.AddToSet("s", "a", 0.5);
            t.AddToSet("other", "z", 1);
        });
        using var connection = _store.Connect();

        Assert.Equal(["a", "b", "c"], connection.GetAllItemsFromSet("s").Order());
        Assert.Equal("a", connection.GetFirstByLowestScoreFromSet("s", 0, 10));
        Assert.Equal("b", connection.GetFirstByLowestScoreFromSet("s", 1, 1));
        Assert.Null(connection.GetFirstByLowestScoreFromSet("s", 4, 10));
        Assert.Equal(["b", "c"], connection.GetFirstByLowestScoreFromSet("s", 1, 2, 5));
        Assert.Equal(["a", "b"], connection.GetFirstByLowestScoreFromSet("s", 0, 10, 2));
        Assert.Throws<ArgumentException>(() => connection.GetFirstByLowestScoreFromSet("s", 2, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => connection.GetFirstByLowestScoreFromSet("s", 0, 1, 0));

        Assert.Equal(["a", "b", "c"], connection.GetRangeFromSet("s", 0, 2));
        Assert.Equal(["b", "c"], connection.GetRangeFromSet("s", 1, 5));
        Assert.Equal(["c"], connection.GetRangeFromSet("s", 2, 2));
        Assert.Empty(connection.GetRangeFromSet("s", 3, 9));

        Assert.Equal(3, connection.GetSetCount("s"));
        Assert.Equal(2, connection.GetSetCount(["s", "other"], 2));
        Assert.Equal(4, connection.GetSetCount(["s", "other", "none"], 10));
        Assert.True(connection.GetSetContains("s", "c"));
        Assert.False(connection.GetSetContains("other", "c"));
    }

    [Fact]
    public void RemoveFromSetAndRemoveSet_RemoveByValueAndByKey_AfterAddRangeToSet()
    {
        _store.Write(t =>
        {
            t.AddRangeToSet("s", ["a", "b", "c"]);
            t.RemoveFromSet("s", "b");
        });
        using var connection = _store.Connect();
        Assert.Equal(["a", "c"], connection.GetAllItemsFromSet("s").Order());
        _store.Write(t => t.RemoveSet("s"));
        Assert.Empty(connection.GetAllItemsFromSet("s"));
    }

    // ---- lists ----

    [Fact]
    public void GetAllItemsFromList_ReturnsNewestFirst_AndTrimListKeepsAnInclusiveRange()
    {
        _store.Write(t =>
        {
            foreach (var item in new[] { "1", "2", "3", "4", "5" })
            {
                t.InsertToList("l", item);
            }
        });
        using var connection = _store.Connect();
        Assert.Equal(["5", "4", "3", "2", "1"], connection.GetAllItemsFromList("l"));
        Assert.Equal(["4", "3"], connection.GetRangeFromList("l", 1, 2));
        Assert.Equal(5, connection.GetListCount("l"));

        _store.Write(t => t.TrimList("l", 1, 3));
        Assert.Equal(["4", "3", "2"], connection.GetAllItemsFromList("l"));

        _store.Write(t => t.RemoveFromList("l", "3"));
        Assert.Equal(["4", "2"], connection.GetAllItemsFromList("l"));

        _store.Write(t => t.TrimList("l", 1, 0));
        Assert.Equal(0, connection.GetListCount("l"));
    }

    // ---- hashes ----

    [Fact]
    public void SetRangeInHash_UpsertsFields_AndReadsAreNullWhenTheHashIsMissing()
    {
        using var connection = _store.Connect();
        Assert.Null(connection.GetAllEntriesFromHash("h"));
        Assert.Null(connection.GetValueFromHash("h", "f"));

        connection.SetRangeInHash("h", new Dictionary<string, string?> { ["f"] = "1", ["g"] = "2" });
        _store.Write(t => t.SetRangeInHash("h", [new("f", "3")]));
        Assert.Equal(new Dictionary<string, string?> { ["f"] = "3", ["g"] = "2" }, connection.GetAllEntriesFromHash("h"));
        Assert.Equal("2", connection.GetValueFromHash("h", "g"));
        Assert.Equal(2, connection.GetHashCount("h"));

        _store.Write(t => t.RemoveHash("h"));
        Assert.Null(connection.GetAllEntriesFromHash("h"));
    }

    // ---- expiry ----

    [Fact]
    public void ExpireAndPersist_SetAndClearTheTtl_OfSetsListsHashesAndJobs()
    {
        var id = _store.CreateJob();
        _store.Write(t =>
        {
            t.AddToSet("s", "a");
            t.InsertToList("l", "a");
            t.SetRangeInHash("h", [new("f", "v")]);
        });
        using var connection = _store.Connect();
        Assert.Equal(TimeSpan.FromSeconds(-1), connection.GetSetTtl("s"));
        Assert.Equal(TimeSpan.FromSeconds(-1), connection.GetSetTtl("missing"));

        _store.Write(t =>
        {
            t.ExpireSet("s", TimeSpan.FromMinutes(1));
            t.ExpireList("l", TimeSpan.FromMinutes(2));
            t.ExpireHash("h", TimeSpan.FromMinutes(3));
            t.PersistJob(id);
        });
        Assert.Equal(TimeSpan.FromMinutes(1), connection.GetSetTtl("s"));
        Assert.Equal(TimeSpan.FromMinutes(2), connection.GetListTtl("l"));
        Assert.Equal(TimeSpan.FromMinutes(3), connection.GetHashTtl("h"));
        Assert.Equal(0, _store.Count($"SELECT COUNT(*) FROM Job WHERE Id = {id} AND ExpireAt IS NOT NULL"));

        _store.Clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(TimeSpan.FromSeconds(30), connection.GetSetTtl("s"));

        _store.Write(t =>
        {
            t.PersistSet("s");
            t.PersistList("l");
            t.PersistHash("h");
            t.ExpireJob(id, TimeSpan.FromMinutes(5));
        });
        Assert.Equal(TimeSpan.FromSeconds(-1), connection.GetSetTtl("s"));
        Assert.Equal(TimeSpan.FromSeconds(-1), connection.GetListTtl("l"));
        Assert.Equal(TimeSpan.FromSeconds(-1), connection.GetHashTtl("h"));
        Assert.Equal(1, _store.Count($"SELECT COUNT(*) FROM Job WHERE Id = {id} AND ExpireAt IS NOT NULL"));
    }

    // ---- counters ----

    [Fact]
    public void IncrementAndDecrementCounter_AddUpInOneRow()
    {
        _store.Write(t =>
        {
            t.IncrementCounter("c");
            t.IncrementCounter("c");
            t.IncrementCounter("c", TimeSpan.FromHours(1));
            t.DecrementCounter("c");
            t.DecrementCounter("d", TimeSpan.FromHours(1));
        });
        using var connection = _store.Connect();
        Assert.Equal(2, connection.GetCounter("c"));
        Assert.Equal(-1, connection.GetCounter("d"));
        Assert.Equal(0, connection.GetCounter("none"));
        Assert.Equal(1, _store.Count("SELECT COUNT(*) FROM Counter WHERE \"Key\" = 'c'"));
    }

    // ---- servers ----

    [Fact]
    public void RemoveTimedOutServers_RemovesServersThatStoppedBeating_AndTheirHeartbeatThenThrowsGone()
    {
        using var connection = _store.Connect();
        connection.AnnounceServer("a", new ServerContext { WorkerCount = 3, Queues = ["default"] });
        connection.AnnounceServer("b", new ServerContext { WorkerCount = 1, Queues = ["x"] });

        _store.Clock.Advance(TimeSpan.FromMinutes(2));
        connection.Heartbeat("a");
        Assert.Equal(1, connection.RemoveTimedOutServers(TimeSpan.FromMinutes(1)));
        Assert.Throws<BackgroundServerGoneException>(() => connection.Heartbeat("b"));
        Assert.Throws<ArgumentException>(() => connection.RemoveTimedOutServers(TimeSpan.FromSeconds(-1)));

        var server = Assert.Single(_store.Monitoring.Servers());
        Assert.Equal(("a", 3, "default"), (server.Name, server.WorkersCount, server.Queues.Single()));
        connection.RemoveServer("a");
        Assert.Empty(_store.Monitoring.Servers());
    }

    [Fact]
    public void GetUtcDateTime_ReturnsTheStorageClock_InUtc()
    {
        using var connection = _store.Connect();
        Assert.Equal(_store.Clock.GetUtcNow().UtcDateTime, connection.GetUtcDateTime());
        Assert.Equal(DateTimeKind.Utc, connection.GetUtcDateTime().Kind);
    }
}
