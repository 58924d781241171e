// Over 300 lines: one class per Hangfire abstraction, as Hangfire's own storages do; JobStorageConnection is the widest of them (jobs, parameters, sets, hashes, lists, servers, locks, the extended API the dashboard uses).
using System.Globalization;
using System.Text.Json;
using Hangfire;
using Hangfire.Common;
using Hangfire.Server;
using Hangfire.Storage;
using Microsoft.Data.Sqlite;

namespace GpuLxc.Hangfire.Sqlite;

/// <summary>
/// One Hangfire connection. It holds no SQLite connection of its own: every call opens a pooled one and gives it
/// back, so a connection object may be used from any thread (async code hops threads) without sharing SQLite state.
/// </summary>
internal sealed class SqliteStorageConnection(SqliteStorage storage) : JobStorageConnection
{
    private readonly SqliteDatabase _database = storage.Database;
    private readonly Dictionary<string, HeldLock> _locks = new(StringComparer.Ordinal);
    private readonly string _owner = Guid.NewGuid().ToString("N");

    public override IWriteOnlyTransaction CreateWriteTransaction() => new SqliteWriteTransaction(storage);

    /// <summary>Reentrant per connection object: a second acquire of a held resource counts up and returns at once.</summary>
    public override IDisposable AcquireDistributedLock(string resource, TimeSpan timeout)
    {
        ArgumentException.ThrowIfNullOrEmpty(resource);
        lock (_locks)
        {
            if (_locks.TryGetValue(resource, out var held))
            {
                held.Count++;
                return new LockRelease(this, resource);
            }
        }

        var acquired = SqliteDistributedLock.Acquire(_database, resource, _owner, timeout);
        lock (_locks)
        {
            _locks[resource] = new HeldLock(acquired);
        }

        return new LockRelease(this, resource);
    }

    public override string CreateExpiredJob(Job job, IDictionary<string, string?> parameters, DateTime createdAt, TimeSpan expireIn)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(parameters);
        var invocation = InvocationData.SerializeJob(job);
        var payload = invocation.SerializePayload(excludeArguments: true);
        var id = _database.Write(connection =>
        {
            var jobId = (long)connection.Scalar(
                "INSERT INTO Job (InvocationData, Arguments, CreatedAt, ExpireAt) VALUES ($data, $arguments, $createdAt, $expireAt) RETURNING Id",
                ("$data", payload), ("$arguments", invocation.Arguments ?? string.Empty),
                ("$createdAt", Timestamps.From(createdAt)), ("$expireAt", Timestamps.From(createdAt.Add(expireIn))))!;
            foreach (var (name, value) in parameters)
            {
                connection.Execute(
                    "INSERT INTO JobParameter (JobId, Name, Value) VALUES ($id, $name, $value) ON CONFLICT (JobId, Name) DO UPDATE SET Value = excluded.Value",
                    ("$id", jobId), ("$name", name), ("$value", value));
            }

            return jobId;
        });
        return id.ToString(CultureInfo.InvariantCulture);
    }

    public override IFetchedJob FetchNextJob(string[] queues, CancellationToken cancellationToken)
    {
        if (queues is null || queues.Length == 0)
        {
            throw new ArgumentException("At least one queue is required.", nameof(queues));
        }

        var signal = storage.Signal;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var wake = signal.Next;
            if (TryFetch(queues) is { } fetched)
            {
                return fetched;
            }

            try
            {
                wake.Wait(storage.Options.QueuePollInterval, cancellationToken);
            }
            catch (AggregateException)
            {
                // The wake-up source never faults; nothing to report.
            }
        }
    }

    /// <summary>
    /// Takes the oldest visible job of the first queue (in the order given) that has one, in one write transaction:
    /// a job is visible when nobody fetched it or its fetch's invisibility timeout lapsed.
    /// </summary>
    internal SqliteFetchedJob? TryFetch(IReadOnlyList<string> queues)
    {
        var now = _database.Now;
        var row = _database.Write(connection => FetchRow(connection, queues, now));
        // Made after the commit: a fetch that did not commit leaves no keep-alive timer behind.
        return row is var (queueId, jobId, queue) ? new SqliteFetchedJob(_database, queueId, jobId, queue, now) : null;
    }

    private (long QueueId, long JobId, string Queue)? FetchRow(SqliteConnection connection, IReadOnlyList<string> queues, long now)
    {
        var lapsed = now - (long)storage.Options.InvisibilityTimeout.TotalMilliseconds;
        foreach (var queue in queues)
        {
            using var command = connection.Command(
                """
                UPDATE JobQueue SET FetchedAt = $now
                WHERE Id = (SELECT Id FROM JobQueue WHERE Queue = $queue AND (FetchedAt IS NULL OR FetchedAt < $lapsed) ORDER BY Id LIMIT 1)
                RETURNING Id, JobId
                """,
                ("$now", now), ("$queue", queue), ("$lapsed", lapsed));
            using var reader = command.ExecuteReader();
            if (reader.Read())
            {
                return (reader.GetInt64(0), reader.GetInt64(1), queue);
            }
        }

        return null;
    }

    public override void SetJobParameter(string id, string name, string? value)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(name);
        if (!SqliteCommandExtensions.TryParseJobId(id, out var jobId))
        {
            return;
        }

        _database.Write(connection => SqliteWriteTransaction.UpsertParameter(connection, jobId, name, value));
    }

    public override string? GetJobParameter(string id, string name)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(name);
        return SqliteCommandExtensions.TryParseJobId(id, out var jobId)
            ? _database.Read(connection => (string?)connection.Scalar(
                "SELECT Value FROM JobParameter WHERE JobId = $id AND Name = $name", ("$id", jobId), ("$name", name)))
            : null;
    }

    public override JobData? GetJobData(string jobId)
    {
        ArgumentNullException.ThrowIfNull(jobId);
        if (!SqliteCommandExtensions.TryParseJobId(jobId, out var id))
        {
            return null;
        }

        return _database.Read(connection =>
        {
            var row = connection.List(
                "SELECT InvocationData, Arguments, StateName, CreatedAt FROM Job WHERE Id = $id",
                reader => (Data: reader.GetString(0), Arguments: reader.GetString(1), State: reader.StringOrNull(2), CreatedAt: reader.GetInt64(3)),
                ("$id", id)).SingleOrDefault();
            if (row.Data is null)
            {
                return null;
            }

            var parameters = connection.List(
                "SELECT Name, Value FROM JobParameter WHERE JobId = $id",
                reader => (Name: reader.GetString(0), Value: reader.StringOrNull(1)),
                ("$id", id)).ToDictionary(p => p.Name, p => p.Value, StringComparer.Ordinal);
            var loaded = StoredJob.Load(row.Data, row.Arguments);
            return new JobData
            {
                Job = loaded.Job,
                InvocationData = loaded.InvocationData,
                LoadException = loaded.LoadException,
                State = row.State,
                CreatedAt = Timestamps.ToDateTime(row.CreatedAt),
                ParametersSnapshot = parameters,
            };
        });
    }

    public override StateData? GetStateData(string jobId)
    {
        ArgumentNullException.ThrowIfNull(jobId);
        if (!SqliteCommandExtensions.TryParseJobId(jobId, out var id))
        {
            return null;
        }

        return _database.Read(connection => connection.List(
            "SELECT s.Name, s.Reason, s.Data FROM Job j JOIN State s ON s.Id = j.StateId WHERE j.Id = $id",
            reader => new StateData
            {
                Name = reader.GetString(0),
                Reason = reader.StringOrNull(1),
                Data = StateDataJson.Read(reader.StringOrNull(2)),
            },
            ("$id", id)).SingleOrDefault());
    }

    public override void AnnounceServer(string serverId, ServerContext context)
    {
        ArgumentNullException.ThrowIfNull(serverId);
        ArgumentNullException.ThrowIfNull(context);
        var data = JsonSerializer.Serialize(new ServerData(context.WorkerCount, context.Queues ?? [], _database.Options.TimeProvider.GetUtcNow().UtcDateTime));
        _database.Write(connection => connection.Execute(
            """
            INSERT INTO Server (Id, Data, LastHeartbeat) VALUES ($id, $data, $now)
            ON CONFLICT (Id) DO UPDATE SET Data = excluded.Data, LastHeartbeat = excluded.LastHeartbeat
            """,
            ("$id", serverId), ("$data", data), ("$now", _database.Now)));
    }

    public override void RemoveServer(string serverId)
    {
        ArgumentNullException.ThrowIfNull(serverId);
        _database.Write(connection => connection.Execute("DELETE FROM Server WHERE Id = $id", ("$id", serverId)));
    }

    public override void Heartbeat(string serverId)
    {
        ArgumentNullException.ThrowIfNull(serverId);
        var updated = _database.Write(connection => connection.Execute(
            "UPDATE Server SET LastHeartbeat = $now WHERE Id = $id", ("$now", _database.Now), ("$id", serverId)));
        if (updated == 0)
        {
            // Another server removed this one as timed out: Hangfire restarts it, announcing it again.
            throw new BackgroundServerGoneException();
        }
    }

    public override int RemoveTimedOutServers(TimeSpan timeOut)
    {
        if (timeOut < TimeSpan.Zero)
        {
            throw new ArgumentException("The timeout must not be negative.", nameof(timeOut));
        }

        return _database.Write(connection => connection.Execute(
            "DELETE FROM Server WHERE LastHeartbeat < $cutoff", ("$cutoff", _database.Now - (long)timeOut.TotalMilliseconds)));
    }

    // ---- sets ----

    public override HashSet<string> GetAllItemsFromSet(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _database.Read(connection => connection.List(
            "SELECT Value FROM \"Set\" WHERE \"Key\" = $key", reader => reader.GetString(0), ("$key", key)).ToHashSet(StringComparer.Ordinal));
    }

    public override string? GetFirstByLowestScoreFromSet(string key, double fromScore, double toScore) =>
        GetFirstByLowestScoreFromSet(key, fromScore, toScore, 1).FirstOrDefault();

    public override List<string> GetFirstByLowestScoreFromSet(string key, double fromScore, double toScore, int count)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (toScore < fromScore)
        {
            throw new ArgumentException("toScore must not be lower than fromScore.", nameof(toScore));
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        return _database.Read(connection => connection.List(
            "SELECT Value FROM \"Set\" WHERE \"Key\" = $key AND Score BETWEEN $from AND $to ORDER BY Score, Id LIMIT $count",
            reader => reader.GetString(0),
            ("$key", key), ("$from", fromScore), ("$to", toScore), ("$count", count)));
    }

    public override long GetSetCount(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _database.Read(connection => connection.Count("SELECT COUNT(*) FROM \"Set\" WHERE \"Key\" = $key", ("$key", key)));
    }

    public override long GetSetCount(IEnumerable<string> keys, int limit)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        var list = keys.ToList();
        if (list.Count == 0 || limit == 0)
        {
            return 0;
        }

        return _database.Read(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText =
                $"SELECT COUNT(*) FROM (SELECT 1 FROM \"Set\" WHERE \"Key\" IN ({InList.Parameters(command, "$k", list)}) LIMIT $limit)";
            command.Parameters.AddWithValue("$limit", limit);
            return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        });
    }

    public override bool GetSetContains(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        return _database.Read(connection => connection.Count(
            "SELECT EXISTS (SELECT 1 FROM \"Set\" WHERE \"Key\" = $key AND Value = $value)", ("$key", key), ("$value", value)) == 1);
    }

    /// <summary>Items <paramref name="startingFrom"/> to <paramref name="endingAt"/> (both inclusive) by score.</summary>
    public override List<string> GetRangeFromSet(string key, int startingFrom, int endingAt)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _database.Read(connection => connection.List(
            "SELECT Value FROM \"Set\" WHERE \"Key\" = $key ORDER BY Score, Id LIMIT $count OFFSET $from",
            reader => reader.GetString(0),
            ("$key", key), ("$count", RangeCount(startingFrom, endingAt)), ("$from", Math.Max(startingFrom, 0))));
    }

    public override TimeSpan GetSetTtl(string key) => Ttl("SELECT MIN(ExpireAt) FROM \"Set\" WHERE \"Key\" = $key", key);

    // ---- hashes ----

    public override void SetRangeInHash(string key, IEnumerable<KeyValuePair<string, string?>> keyValuePairs)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(keyValuePairs);
        var pairs = keyValuePairs.ToList();
        _database.Write(connection => SqliteWriteTransaction.UpsertHash(connection, key, pairs));
    }

    /// <summary>Null when the hash does not exist, as Hangfire expects.</summary>
    public override Dictionary<string, string?>? GetAllEntriesFromHash(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var entries = _database.Read(connection => connection.List(
            "SELECT Field, Value FROM Hash WHERE \"Key\" = $key",
            reader => (Field: reader.GetString(0), Value: reader.StringOrNull(1)), ("$key", key)));
        return entries.Count == 0 ? null : entries.ToDictionary(e => e.Field, e => e.Value, StringComparer.Ordinal);
    }

    public override string? GetValueFromHash(string key, string name)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(name);
        return _database.Read(connection => (string?)connection.Scalar(
            "SELECT Value FROM Hash WHERE \"Key\" = $key AND Field = $field", ("$key", key), ("$field", name)));
    }

    public override long GetHashCount(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _database.Read(connection => connection.Count("SELECT COUNT(*) FROM Hash WHERE \"Key\" = $key", ("$key", key)));
    }

    public override TimeSpan GetHashTtl(string key) => Ttl("SELECT MIN(ExpireAt) FROM Hash WHERE \"Key\" = $key", key);

    // ---- lists (newest first: index 0 is the item inserted last) ----

    public override long GetListCount(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _database.Read(connection => connection.Count("SELECT COUNT(*) FROM List WHERE \"Key\" = $key", ("$key", key)));
    }

    public override List<string> GetAllItemsFromList(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _database.Read(connection => connection.List(
            "SELECT Value FROM List WHERE \"Key\" = $key ORDER BY Id DESC", reader => reader.StringOrNull(0)!, ("$key", key)));
    }

    public override List<string> GetRangeFromList(string key, int startingFrom, int endingAt)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _database.Read(connection => connection.List(
            "SELECT Value FROM List WHERE \"Key\" = $key ORDER BY Id DESC LIMIT $count OFFSET $from",
            reader => reader.StringOrNull(0)!,
            ("$key", key), ("$count", RangeCount(startingFrom, endingAt)), ("$from", Math.Max(startingFrom, 0))));
    }

    public override TimeSpan GetListTtl(string key) => Ttl("SELECT MIN(ExpireAt) FROM List WHERE \"Key\" = $key", key);

    // ---- counters ----

    public override long GetCounter(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _database.Read(connection => connection.Count("SELECT COALESCE(SUM(Value), 0) FROM Counter WHERE \"Key\" = $key", ("$key", key)));
    }

    public override DateTime GetUtcDateTime() => _database.Options.TimeProvider.GetUtcNow().UtcDateTime;

    public override void Dispose()
    {
        List<SqliteDistributedLock> held;
        lock (_locks)
        {
            held = _locks.Values.Select(l => l.Lock).ToList();
            _locks.Clear();
        }

        foreach (var distributedLock in held)
        {
            distributedLock.Release();
        }

        base.Dispose();
    }

    /// <summary>Hangfire's TTL convention: -1 second when the key has no expiry or does not exist.</summary>
    private TimeSpan Ttl(string sql, string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var expireAt = _database.Read(connection => (long?)connection.Scalar(sql, ("$key", key)));
        return expireAt is { } at ? TimeSpan.FromMilliseconds(at - _database.Now) : TimeSpan.FromSeconds(-1);
    }

    private static int RangeCount(int startingFrom, int endingAt) => Math.Max(endingAt - Math.Max(startingFrom, 0) + 1, 0);

    private void Release(string resource)
    {
        SqliteDistributedLock? released = null;
        lock (_locks)
        {
            if (_locks.TryGetValue(resource, out var held) && --held.Count == 0)
            {
                _locks.Remove(resource);
                released = held.Lock;
            }
        }

        released?.Release();
    }

    private sealed class HeldLock(SqliteDistributedLock distributedLock)
    {
        public SqliteDistributedLock Lock { get; } = distributedLock;

        public int Count { get; set; } = 1;
    }

    private sealed class LockRelease(SqliteStorageConnection connection, string resource) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                connection.Release(resource);
            }
        }
    }
}

/// <summary>What <c>Server.Data</c> holds.</summary>
internal sealed record ServerData(int WorkerCount, string[] Queues, DateTime StartedAt);

/// <summary>Builds <c>IN (...)</c> lists out of parameters, never out of values.</summary>
internal static class InList
{
    public static string Parameters(SqliteCommand command, string prefix, IReadOnlyList<string> values)
    {
        var names = new string[values.Count];
        for (var i = 0; i < values.Count; i++)
        {
            names[i] = string.Create(CultureInfo.InvariantCulture, $"{prefix}{i}");
            command.Parameters.AddWithValue(names[i], values[i]);
        }

        return string.Join(", ", names);
    }
}

/// <summary>UTC Unix milliseconds, the only time format in the file.</summary>
internal static class Timestamps
{
    public static long From(DateTime utc) => new DateTimeOffset(DateTime.SpecifyKind(utc, DateTimeKind.Utc)).ToUnixTimeMilliseconds();

    public static DateTime ToDateTime(long milliseconds) => DateTimeOffset.FromUnixTimeMilliseconds(milliseconds).UtcDateTime;

    public static DateTime? ToDateTime(long? milliseconds) => milliseconds is { } ms ? ToDateTime(ms) : null;
}

/// <summary>State data (a string dictionary) as JSON.</summary>
internal static class StateDataJson
{
    public static string Write(IDictionary<string, string>? data) => JsonSerializer.Serialize(data ?? new Dictionary<string, string>());

    public static Dictionary<string, string> Read(string? json)
    {
        if (string.IsNullOrEmpty(json))
        {
            return new Dictionary<string, string>(StringComparer.Ordinal);
        }

        try
        {
            return JsonSerializer.Deserialize<Dictionary<string, string>>(json) is { } data
                ? new Dictionary<string, string>(data, StringComparer.Ordinal)
                : new Dictionary<string, string>(StringComparer.Ordinal);
        }
        catch (JsonException)
        {
            return new Dictionary<string, string>(StringComparer.Ordinal);
        }
    }
}

/// <summary>A job's stored payload turned back into a <see cref="Job"/>, or the reason it cannot be.</summary>
internal readonly record struct StoredJob(Job? Job, InvocationData? InvocationData, JobLoadException? LoadException)
{
    public static StoredJob Load(string payload, string? arguments)
    {
        InvocationData invocation;
        try
        {
            invocation = InvocationData.DeserializePayload(payload);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new StoredJob(null, null, new JobLoadException("The job's stored invocation data could not be read.", e));
        }

        if (!string.IsNullOrEmpty(arguments))
        {
            invocation.Arguments = arguments;
        }

        try
        {
            return new StoredJob(invocation.DeserializeJob(), invocation, null);
        }
        catch (JobLoadException e)
        {
            return new StoredJob(null, invocation, e);
        }
    }
}
