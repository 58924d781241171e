namespace GpuLxc.Hangfire.Sqlite.Tests;

public sealed class SqliteFetchedJobFacts : IDisposable
{
    private readonly TestStore _store = new();

    public void Dispose() => _store.Dispose();

    private SqliteFetchedJob Fetch()
    {
        using var connection = _store.Connect();
        return connection.TryFetch(["default"]) ?? throw new InvalidOperationException("nothing to fetch");
    }

    [Fact]
    public void RemoveFromQueue_DeletesTheQueueRow_AndALaterDisposeChangesNothing()
    {
        _store.Enqueue();
        var fetched = Fetch();
        fetched.RemoveFromQueue();
        fetched.Dispose();
        Assert.Equal(0, _store.Count("SELECT COUNT(*) FROM JobQueue"));
    }

    [Fact]
    public void Requeue_MakesTheJobVisibleAgain_AtOnce()
    {
        var id = _store.Enqueue();
        var fetched = Fetch();
        fetched.Requeue();
        Assert.Equal(id, Fetch().JobId);
    }

    [Fact]
    public void Dispose_HandsTheJobBack_WhenItWasNotAcknowledged()
    {
        var id = _store.Enqueue();
        Fetch().Dispose();
        Assert.Equal(0, _store.Count("SELECT COUNT(*) FROM JobQueue WHERE FetchedAt IS NOT NULL"));
        Assert.Equal(id, Fetch().JobId);
    }

    [Fact]
    public void KeepAlive_SlidesTheFetch_SoALongJobIsNeverHandedOutTwice()
    {
        _store.Enqueue();
        var fetched = Fetch();
        var timeout = _store.Storage.Options.InvisibilityTimeout;
        for (var i = 0; i < 10; i++)
        {
            _store.Clock.Advance(timeout / 2);
            fetched.KeepAlive();
            using var connection = _store.Connect();
            Assert.Null(connection.TryFetch(["default"]));
        }

        Assert.True(fetched.Owned);
        Assert.Equal(_store.Clock.GetUtcNow().ToUnixTimeMilliseconds(), fetched.FetchedAt);
        fetched.RemoveFromQueue();
        Assert.Equal(0, _store.Count("SELECT COUNT(*) FROM JobQueue"));
    }

    [Fact]
    public void KeepAlive_MarksTheJobNotOwned_WhenAnotherWorkerTookItOver()
    {
        _store.Enqueue();
        var stale = Fetch();
        _store.Clock.Advance(_store.Storage.Options.InvisibilityTimeout + TimeSpan.FromSeconds(1));
        var current = Fetch();

        stale.KeepAlive();
        Assert.False(stale.Owned);
        Assert.True(current.Owned);
        Assert.Equal(current.FetchedAt, _store.Count("SELECT FetchedAt FROM JobQueue"));
    }

    [Fact]
    public async Task KeepAlive_RunsOnItsOwn_WhileTheJobRuns()
    {
        using var store = new TestStore(o => o.InvisibilityTimeout = TimeSpan.FromMilliseconds(500));
        store.Enqueue();
        using var connection = store.Connect();
        using var fetched = connection.TryFetch(["default"])!;
        var first = fetched.FetchedAt;
        store.Clock.Advance(TimeSpan.FromSeconds(1));
        // The timer ticks every 100 ms on real time and stamps the (advanced) storage clock.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (fetched.FetchedAt == first && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        // Later ticks on the frozen test clock move the stamp on by a millisecond each.
        Assert.InRange(fetched.FetchedAt, store.Clock.GetUtcNow().ToUnixTimeMilliseconds(), store.Clock.GetUtcNow().ToUnixTimeMilliseconds() + 100);
        Assert.Null(connection.TryFetch(["default"]));
    }
}
