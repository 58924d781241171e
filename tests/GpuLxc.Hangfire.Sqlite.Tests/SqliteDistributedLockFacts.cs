using System.Diagnostics;
using Hangfire.Storage;

namespace GpuLxc.Hangfire.Sqlite.Tests;

public sealed class SqliteDistributedLockFacts : IDisposable
{
    private readonly TestStore _store = new();

    public void Dispose() => _store.Dispose();

    [Fact]
    public void AcquireDistributedLock_TimesOut_WhenAnotherConnectionHoldsTheResource()
    {
        using var owner = _store.Connect();
        using var contender = _store.Connect();
        using var held = owner.AcquireDistributedLock("resource", TimeSpan.Zero);

        var waited = Stopwatch.StartNew();
        var refused = Assert.Throws<DistributedLockTimeoutException>(() => contender.AcquireDistributedLock("resource", TimeSpan.FromMilliseconds(300)));
        Assert.Equal("resource", refused.Resource);
        Assert.InRange(waited.Elapsed, TimeSpan.FromMilliseconds(290), TimeSpan.FromSeconds(5));

        using var other = contender.AcquireDistributedLock("other-resource", TimeSpan.Zero);
    }

    [Fact]
    public async Task AcquireDistributedLock_ReentersAndReleasesOnTheLastDispose_WhenTheSameConnectionAsksFromAnyThread()
    {
        using var owner = _store.Connect();
        using var contender = _store.Connect();
        var outer = owner.AcquireDistributedLock("resource", TimeSpan.Zero);
        var inner = await Task.Run(() => owner.AcquireDistributedLock("resource", TimeSpan.Zero));

        inner.Dispose();
        Assert.Throws<DistributedLockTimeoutException>(() => contender.AcquireDistributedLock("resource", TimeSpan.Zero));
        inner.Dispose(); // a second dispose of one handle does not count twice
        Assert.Throws<DistributedLockTimeoutException>(() => contender.AcquireDistributedLock("resource", TimeSpan.Zero));

        outer.Dispose();
        using var taken = contender.AcquireDistributedLock("resource", TimeSpan.Zero);
        Assert.Equal(1, _store.Count("SELECT COUNT(*) FROM Lock"));
    }

    [Fact]
    public async Task AcquireDistributedLock_GetsTheLock_WhenTheHolderReleasesItDuringTheWait()
    {
        using var owner = _store.Connect();
        using var contender = _store.Connect();
        var held = owner.AcquireDistributedLock("resource", TimeSpan.Zero);
        var waiting = Task.Run(() => contender.AcquireDistributedLock("resource", TimeSpan.FromSeconds(10)));
        await Task.Delay(200);
        Assert.False(waiting.IsCompleted);
        held.Dispose();
        (await waiting.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
    }

    [Fact]
    public void Dispose_ReleasesEveryLock_WhenTheConnectionHoldsSeveral()
    {
        var owner = _store.Connect();
        owner.AcquireDistributedLock("a", TimeSpan.Zero);
        owner.AcquireDistributedLock("b", TimeSpan.Zero);
        owner.Dispose();
        Assert.Equal(0, _store.Count("SELECT COUNT(*) FROM Lock"));
    }

    [Fact]
    public void AcquireDistributedLock_TakesTheLockOver_WhenADeadOwnersLeaseHasLapsed()
    {
        using var contender = _store.Connect();
        // The owner "dies": its connection is never disposed and its renewals stop with the process.
        _store.Execute($"INSERT INTO Lock (Resource, Owner, ExpireAt) VALUES ('resource', 'dead', {_store.Clock.GetUtcNow().AddSeconds(30).ToUnixTimeMilliseconds()})");
        Assert.Throws<DistributedLockTimeoutException>(() => contender.AcquireDistributedLock("resource", TimeSpan.Zero));

        _store.Clock.Advance(TimeSpan.FromSeconds(31));
        using var taken = contender.AcquireDistributedLock("resource", TimeSpan.Zero);
        Assert.Equal(0, _store.Count("SELECT COUNT(*) FROM Lock WHERE Owner = 'dead'"));
    }

    [Fact]
    public async Task AcquireDistributedLock_NeverTakesTheLockOver_WhileTheLiveOwnerRenewsItsLease()
    {
        using var store = new TestStore(o =>
        {
            o.TimeProvider = TimeProvider.System;
            o.DistributedLockLifetime = TimeSpan.FromSeconds(1);
        });
        using var owner = store.Connect();
        using var contender = store.Connect();
        using var held = owner.AcquireDistributedLock("resource", TimeSpan.Zero);
        // Three lifetimes: without renewals the lease would have lapsed twice over.
        for (var i = 0; i < 12; i++)
        {
            await Task.Delay(250);
            Assert.Throws<DistributedLockTimeoutException>(() => contender.AcquireDistributedLock("resource", TimeSpan.Zero));
        }
    }

    [Fact]
    public void AcquireDistributedLock_Throws_WhenTheResourceIsEmptyOrTheTimeoutNegative()
    {
        using var connection = _store.Connect();
        Assert.ThrowsAny<ArgumentException>(() => connection.AcquireDistributedLock("", TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => connection.AcquireDistributedLock("r", TimeSpan.FromSeconds(-1)));
    }
}
