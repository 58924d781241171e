using System.Text.Json.Nodes;
using GpuLxc.Api.Events;
using GpuLxc.Api.Infrastructure;

namespace GpuLxc.Api.Tests.Events;

public sealed class EventStoreFacts : IDisposable
{
    private readonly DataDirectory _dataDirectory = new(Directory.CreateTempSubdirectory("gpulxc-events-").FullName);
    private readonly EventStore _store;

    public EventStoreFacts() => _store = new EventStore(new GpuLxcDatabase(_dataDirectory));

    public void Dispose()
    {
        _dataDirectory.Dispose();
        Directory.Delete(_dataDirectory.Path, recursive: true);
    }

    [Fact]
    public async Task LastId_RemembersTheLargestIdEverStored_WhenRetentionDeletedEveryRow()
    {
        await _store.AppendAsync([Event(1), Event(2), Event(3)], CancellationToken.None);

        var deleted = await _store.PruneAsync(keep: 0, DateTimeOffset.UtcNow.AddDays(1), CancellationToken.None);

        Assert.Equal(3, deleted);
        Assert.Empty(await _store.AfterAsync(0, 10, CancellationToken.None));
        Assert.Equal(3, _store.LastId());
    }

    [Fact]
    public async Task PruneAsync_KeepsTheNewest_WhenThereAreMoreThanRetained()
    {
        await _store.AppendAsync([.. Enumerable.Range(1, 10).Select(i => Event(i))], CancellationToken.None);

        await _store.PruneAsync(keep: 4, DateTimeOffset.UnixEpoch, CancellationToken.None);

        Assert.Equal([7L, 8L, 9L, 10L], (await _store.AfterAsync(0, 100, CancellationToken.None)).Select(e => e.Id));
    }

    [Fact]
    public async Task PruneAsync_DeletesEventsOlderThanTheCutoff_WhenFewerThanRetained()
    {
        var now = DateTimeOffset.UtcNow;
        await _store.AppendAsync([Event(1, now.AddDays(-40)), Event(2, now.AddDays(-1)), Event(3, now)], CancellationToken.None);

        await _store.PruneAsync(keep: 100, now.AddDays(-30), CancellationToken.None);

        Assert.Equal([2L, 3L], (await _store.AfterAsync(0, 100, CancellationToken.None)).Select(e => e.Id));
    }

    private static GpuLxcEvent Event(long id, DateTimeOffset? at = null) =>
        new(id, EventTypes.KernelStaged, at ?? DateTimeOffset.UtcNow, new JsonObject { ["kernel"] = $"6.8.{id}" });
}
