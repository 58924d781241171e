using Hangfire.Logging;
using Hangfire.Storage;

namespace GpuLxc.Hangfire.Sqlite;

/// <summary>
/// A lease on a named resource in the <c>Lock</c> table, held by one connection object. It is renewed while held
/// and deleted on release; if its owner's process dies, the lease lapses after
/// <see cref="SqliteStorageOptions.DistributedLockLifetime"/> and the next contender takes it over.
/// </summary>
internal sealed class SqliteDistributedLock
{
    private static readonly ILog Log = LogProvider.GetLogger(typeof(SqliteDistributedLock));

    private readonly SqliteDatabase _database;
    private readonly ITimer _renewal;

    private SqliteDistributedLock(SqliteDatabase database, string resource, string owner)
    {
        _database = database;
        Resource = resource;
        Owner = owner;
        var period = database.Options.DistributedLockLifetime / 3;
        _renewal = database.Options.TimeProvider.CreateTimer(_ => Renew(), null, period, period);
    }

    public string Resource { get; }

    public string Owner { get; }

    public static SqliteDistributedLock Acquire(SqliteDatabase database, string resource, string owner, TimeSpan timeout)
    {
        ArgumentException.ThrowIfNullOrEmpty(resource);
        if (timeout < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "must not be negative");
        }

        var clock = database.Options.TimeProvider;
        var started = clock.GetTimestamp();
        var pause = TimeSpan.FromMilliseconds(5);
        while (true)
        {
            if (TryTake(database, resource, owner))
            {
                return new SqliteDistributedLock(database, resource, owner);
            }

            var left = timeout - clock.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                throw new DistributedLockTimeoutException(resource);
            }

            Thread.Sleep(pause < left ? pause : left);
            pause = TimeSpan.FromMilliseconds(Math.Min(pause.TotalMilliseconds * 2, 200));
        }
    }

    public void Release()
    {
        _renewal.Dispose();
        _database.Write(connection => connection.Execute(
            "DELETE FROM Lock WHERE Resource = $resource AND Owner = $owner", ("$resource", Resource), ("$owner", Owner)));
    }

    private static bool TryTake(SqliteDatabase database, string resource, string owner) => database.Write(connection =>
    {
        var now = database.Now;
        // Inserts a free resource, or takes over a lapsed lease; a live lease of someone else changes nothing.
        return connection.Execute(
            """
            INSERT INTO Lock (Resource, Owner, ExpireAt) VALUES ($resource, $owner, $expireAt)
            ON CONFLICT (Resource) DO UPDATE SET Owner = excluded.Owner, ExpireAt = excluded.ExpireAt
            WHERE Lock.ExpireAt <= $now
            """,
            ("$resource", resource), ("$owner", owner),
            ("$expireAt", now + (long)database.Options.DistributedLockLifetime.TotalMilliseconds), ("$now", now)) == 1;
    });

    private void Renew()
    {
        try
        {
            var renewed = _database.Write(connection => connection.Execute(
                "UPDATE Lock SET ExpireAt = $expireAt WHERE Resource = $resource AND Owner = $owner",
                ("$expireAt", _database.Now + (long)_database.Options.DistributedLockLifetime.TotalMilliseconds),
                ("$resource", Resource), ("$owner", Owner)));
            if (renewed == 0)
            {
                Log.Warn($"Distributed lock '{Resource}' was lost: its lease lapsed before it could be renewed.");
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A timer callback must not throw (it would end the process); the next renewal tries again.
            Log.WarnException($"Could not renew distributed lock '{Resource}'.", e);
        }
    }
}
