using Hangfire.States;

namespace GpuLxc.Hangfire.Sqlite.Tests;

public sealed class SqliteMonitoringApiFacts : IDisposable
{
    private readonly TestStore _store = new();

    public void Dispose() => _store.Dispose();

    [Fact]
    public void GetStatistics_ReturnsZeros_WhenTheStoreIsEmpty()
    {
        var statistics = _store.Monitoring.GetStatistics();
        Assert.Equal(
            (0L, 0L, 0L, 0L, 0L, 0L, 0L, 0L, 0L, (long?)0, (long?)0),
            (statistics.Enqueued, statistics.Failed, statistics.Processing, statistics.Scheduled, statistics.Succeeded,
             statistics.Deleted, statistics.Servers, statistics.Queues, statistics.Recurring, statistics.Retries, statistics.Awaiting));
        var monitoring = _store.Monitoring;
        Assert.Empty(monitoring.Queues());
        Assert.Empty(monitoring.SucceededJobs(0, 10));
        Assert.All(monitoring.HourlySucceededJobs().Values, v => Assert.Equal(0, v));
        Assert.Equal(24, monitoring.HourlyFailedJobs().Count);
        Assert.Equal(7, monitoring.SucceededByDatesCount().Count);
    }

    [Fact]
    public void GetStatisticsAndLists_FollowTheJobsStates_WhenJobsMoveThroughEveryState()
    {
        var enqueued = _store.Enqueue("alpha", 1);
        _store.Enqueue("alpha", 2);
        var processing = _store.Enqueue("beta", 3);
        var succeeded = _store.CreateJob(4);
        var failed = _store.CreateJob(5);
        var scheduled = _store.CreateJob(6);
        var deleted = _store.CreateJob(7);
        using (var connection = _store.Connect())
        {
            Assert.Equal(processing, connection.TryFetch(["beta"])!.JobId);
        }

        _store.Write(t =>
        {
            t.SetJobState(processing, TestStates.Processing("server-1"));
            t.SetJobState(succeeded, new SucceededState("result", 10, 20));
            t.SetJobState(failed, new FailedState(new InvalidOperationException("boom")));
            t.SetJobState(scheduled, new ScheduledState(_store.Clock.GetUtcNow().AddHours(1).UtcDateTime));
            t.SetJobState(deleted, new DeletedState());
            t.IncrementCounter("stats:succeeded");
            t.IncrementCounter($"stats:succeeded:{_store.Clock.GetUtcNow():yyyy-MM-dd}", TimeSpan.FromDays(1));
            t.IncrementCounter($"stats:failed:{_store.Clock.GetUtcNow():yyyy-MM-dd-HH}", TimeSpan.FromDays(1));
            t.AddToSet("recurring-jobs", "nightly");
            t.AddToSet("retries", failed);
        });

        var monitoring = _store.Monitoring;
        var statistics = monitoring.GetStatistics();
        Assert.Equal((2L, 1L, 1L, 1L, 1L, 2L, 1L, (long?)1), (statistics.Enqueued, statistics.Failed, statistics.Processing,
            statistics.Scheduled, statistics.Succeeded, statistics.Queues, statistics.Recurring, statistics.Retries));

        var queues = monitoring.Queues();
        Assert.Equal(["alpha", "beta"], queues.Select(q => q.Name));
        Assert.Equal((2L, (long?)0), (queues[0].Length, queues[0].Fetched));
        Assert.Equal((0L, (long?)1), (queues[1].Length, queues[1].Fetched));
        Assert.Equal(enqueued, queues[0].FirstJobs.First().Key);
        Assert.True(queues[0].FirstJobs.First().Value.InEnqueuedState);
        Assert.Equal(2, monitoring.EnqueuedCount("alpha"));
        Assert.Equal(1, monitoring.FetchedCount("beta"));
        Assert.Equal(processing, monitoring.FetchedJobs("beta", 0, 10).Single().Key);

        var running = monitoring.ProcessingJobs(0, 10).Single();
        Assert.Equal((processing, "server-1"), (running.Key, running.Value.ServerId));
        var done = monitoring.SucceededJobs(0, 10).Single().Value;
        Assert.Equal(("\"result\"", (long?)30), ((string?)done.Result, done.TotalDuration));
        var broken = monitoring.FailedJobs(0, 10).Single().Value;
        Assert.Equal(("System.InvalidOperationException", "boom"), (broken.ExceptionType, broken.ExceptionMessage));
        Assert.Equal(_store.Clock.GetUtcNow().AddHours(1).UtcDateTime, monitoring.ScheduledJobs(0, 10).Single().Value.EnqueueAt);
        Assert.True(monitoring.DeletedJobs(0, 10).Single().Value.InDeletedState);
        Assert.Equal((1L, 1L, 1L, 1L, 1L), (monitoring.ScheduledCount(), monitoring.FailedCount(), monitoring.ProcessingCount(),
            monitoring.SucceededListCount(), monitoring.DeletedListCount()));
        Assert.Equal(1, monitoring.SucceededByDatesCount()[_store.Clock.GetUtcNow().UtcDateTime.Date]);
        Assert.Equal(1, monitoring.HourlyFailedJobs().Values.Sum());
    }

    [Fact]
    public void SucceededJobs_PagesNewestFirst_WhenAskedForSlices()
    {
        var ids = Enumerable.Range(1, 7).Select(i => _store.CreateJob(i)).ToList();
        _store.Write(t => ids.ForEach(id => t.SetJobState(id, new SucceededState(null, 1, 1))));
        var monitoring = _store.Monitoring;
        Assert.Equal(ids.AsEnumerable().Reverse().Take(3), monitoring.SucceededJobs(0, 3).Select(j => j.Key));
        Assert.Equal(ids.AsEnumerable().Reverse().Skip(3).Take(3), monitoring.SucceededJobs(3, 3).Select(j => j.Key));
        Assert.Equal([ids[0]], monitoring.SucceededJobs(6, 3).Select(j => j.Key));
        Assert.Empty(monitoring.SucceededJobs(9, 3));
    }

    [Fact]
    public void EnqueuedJobsAndJobDetails_ListWithALoadException_WhenThePayloadIsBrokenOrItsTypeMissing()
    {
        var broken = _store.Enqueue("q", 1);
        var missingType = _store.Enqueue("q", 2);
        _store.Execute($"UPDATE Job SET InvocationData = 'garbage' WHERE Id = {broken}");
        _store.Execute($"UPDATE Job SET InvocationData = replace(InvocationData, 'TestJobs', 'NoSuchType') WHERE Id = {missingType}");

        var monitoring = _store.Monitoring;
        var listed = monitoring.EnqueuedJobs("q", 0, 10);
        Assert.Equal([broken, missingType], listed.Select(j => j.Key));
        Assert.All(listed, j => Assert.NotNull(j.Value.LoadException));
        Assert.All(listed, j => Assert.Null(j.Value.Job));
        Assert.NotNull(listed[1].Value.InvocationData);

        var details = monitoring.JobDetails(broken)!;
        Assert.NotNull(details.LoadException);
        Assert.Single(details.History);
        Assert.Null(monitoring.JobDetails("424242"));
        Assert.Null(monitoring.JobDetails("not-a-number"));
    }

    [Fact]
    public void JobDetails_ShowsParametersHistoryAndExpiry()
    {
        var id = _store.Enqueue();
        _store.Write(t =>
        {
            t.SetJobParameter(id, "RetryCount", "1");
            t.ExpireJob(id, TimeSpan.FromDays(1));
        });
        var details = _store.Monitoring.JobDetails(id)!;
        Assert.Equal("1", details.Properties["RetryCount"]);
        Assert.Equal(EnqueuedState.StateName, details.History.Single().StateName);
        Assert.Equal(_store.Clock.GetUtcNow().AddDays(1).UtcDateTime, details.ExpireAt);
        Assert.Equal(nameof(TestJobs.Work), details.Job!.Method.Name);
    }

    [Fact]
    public void AwaitingJobs_NameTheirParentsState()
    {
        var parent = _store.Enqueue();
        var child = _store.CreateJob(2);
        _store.Write(t => t.SetJobState(child, new AwaitingState(parent)));
        var monitoring = _store.Monitoring;
        var awaiting = monitoring.AwaitingJobs(0, 10).Single();
        Assert.Equal((child, EnqueuedState.StateName), (awaiting.Key, awaiting.Value.ParentStateName));
        Assert.Equal(1, monitoring.AwaitingCount());
    }
}
