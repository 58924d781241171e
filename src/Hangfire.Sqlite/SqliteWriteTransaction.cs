using Hangfire.States;
using Hangfire.Storage;
using Microsoft.Data.Sqlite;

namespace GpuLxc.Hangfire.Sqlite;

/// <summary>
/// Buffers Hangfire's writes and applies them in one <c>BEGIN IMMEDIATE</c> transaction at <see cref="Commit"/>:
/// every command takes effect, or (on any failure) none does. A commit is never replayed in part.
/// </summary>
internal sealed class SqliteWriteTransaction(SqliteStorage storage) : JobStorageTransaction
{
    private readonly List<Action<SqliteConnection, long>> _commands = [];
    private readonly List<SqliteFetchedJob> _acknowledged = [];
    private bool _enqueues;

    public override void ExpireJob(string jobId, TimeSpan expireIn) => ForJob(jobId, (c, id, now) =>
        c.Execute("UPDATE Job SET ExpireAt = $at WHERE Id = $id", ("$at", At(now, expireIn)), ("$id", id)));

    public override void PersistJob(string jobId) => ForJob(jobId, (c, id, _) =>
        c.Execute("UPDATE Job SET ExpireAt = NULL WHERE Id = $id", ("$id", id)));

    public override void SetJobState(string jobId, IState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var (name, reason, data) = (state.Name, state.Reason, StateDataJson.Write(state.SerializeData()));
        ForJob(jobId, (c, id, now) =>
        {
            var stateId = InsertState(c, id, name, reason, data, now);
            c.Execute("UPDATE Job SET StateId = $stateId, StateName = $name WHERE Id = $id", ("$stateId", stateId), ("$name", name), ("$id", id));
        });
    }

    public override void AddJobState(string jobId, IState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var (name, reason, data) = (state.Name, state.Reason, StateDataJson.Write(state.SerializeData()));
        ForJob(jobId, (c, id, now) => InsertState(c, id, name, reason, data, now));
    }

    public override void AddToQueue(string queue, string jobId)
    {
        ArgumentException.ThrowIfNullOrEmpty(queue);
        _enqueues = true;
        ForJob(jobId, (c, id, _) => c.Execute("INSERT INTO JobQueue (JobId, Queue) VALUES ($id, $queue)", ("$id", id), ("$queue", queue)));
    }

    /// <summary>Acknowledges a fetched job in the same commit as its state change (Hangfire's transactional acknowledge).</summary>
    public override void RemoveFromQueue(IFetchedJob fetchedJob)
    {
        if (fetchedJob is not SqliteFetchedJob job)
        {
            throw new ArgumentException($"Only jobs fetched from {nameof(SqliteStorage)} can be acknowledged here.", nameof(fetchedJob));
        }

        _acknowledged.Add(job);
    }

    public override void SetJobParameter(string jobId, string name, string? value)
    {
        ArgumentNullException.ThrowIfNull(name);
        ForJob(jobId, (c, id, _) => UpsertParameter(c, id, name, value));
    }

    public override void IncrementCounter(string key) => Counter(key, +1, null);

    public override void IncrementCounter(string key, TimeSpan expireIn) => Counter(key, +1, expireIn);

    public override void DecrementCounter(string key) => Counter(key, -1, null);

    public override void DecrementCounter(string key, TimeSpan expireIn) => Counter(key, -1, expireIn);

    public override void AddToSet(string key, string value) => AddToSet(key, value, 0.0);

    public override void AddToSet(string key, string value, double score)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        Buffer((c, _) => c.Execute(
            "INSERT INTO \"Set\" (\"Key\", Value, Score) VALUES ($key, $value, $score) ON CONFLICT (\"Key\", Value) DO UPDATE SET Score = excluded.Score",
            ("$key", key), ("$value", value), ("$score", score)));
    }

    public override void AddRangeToSet(string key, IList<string> items)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(items);
        var values = items.ToList();
        Buffer((c, _) =>
        {
            foreach (var value in values)
            {
                c.Execute(
                    "INSERT INTO \"Set\" (\"Key\", Value, Score) VALUES ($key, $value, 0.0) ON CONFLICT (\"Key\", Value) DO NOTHING",
                    ("$key", key), ("$value", value));
            }
        });
    }

    public override void RemoveFromSet(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        Buffer((c, _) => c.Execute("DELETE FROM \"Set\" WHERE \"Key\" = $key AND Value = $value", ("$key", key), ("$value", value)));
    }

    public override void RemoveSet(string key) => ForKey(key, (c, k, _) => c.Execute("DELETE FROM \"Set\" WHERE \"Key\" = $key", ("$key", k)));

    public override void ExpireSet(string key, TimeSpan expireIn) => Expire("\"Set\"", key, expireIn);

    public override void PersistSet(string key) => Expire("\"Set\"", key, null);

    public override void InsertToList(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(key);
        Buffer((c, _) => c.Execute("INSERT INTO List (\"Key\", Value) VALUES ($key, $value)", ("$key", key), ("$value", value)));
    }

    public override void RemoveFromList(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(key);
        Buffer((c, _) => c.Execute("DELETE FROM List WHERE \"Key\" = $key AND Value IS $value", ("$key", key), ("$value", value)));
    }

    /// <summary>Keeps items <paramref name="keepStartingFrom"/> to <paramref name="keepEndingAt"/> (inclusive, newest first).</summary>
    public override void TrimList(string key, int keepStartingFrom, int keepEndingAt)
    {
        ArgumentNullException.ThrowIfNull(key);
        var from = Math.Max(keepStartingFrom, 0);
        var count = Math.Max(keepEndingAt - from + 1, 0);
        Buffer((c, _) => c.Execute(
            """
            DELETE FROM List WHERE "Key" = $key AND Id NOT IN
                (SELECT Id FROM List WHERE "Key" = $key ORDER BY Id DESC LIMIT $count OFFSET $from)
            """,
            ("$key", key), ("$count", count), ("$from", from)));
    }

    public override void ExpireList(string key, TimeSpan expireIn) => Expire("List", key, expireIn);

    public override void PersistList(string key) => Expire("List", key, null);

    public override void SetRangeInHash(string key, IEnumerable<KeyValuePair<string, string?>> keyValuePairs)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(keyValuePairs);
        var pairs = keyValuePairs.ToList();
        Buffer((c, _) => UpsertHash(c, key, pairs));
    }

    public override void RemoveHash(string key) => ForKey(key, (c, k, _) => c.Execute("DELETE FROM Hash WHERE \"Key\" = $key", ("$key", k)));

    public override void ExpireHash(string key, TimeSpan expireIn) => Expire("Hash", key, expireIn);

    public override void PersistHash(string key) => Expire("Hash", key, null);

    public override void Commit()
    {
        var fences = _acknowledged.Select(job => (Job: job, FetchedAt: job.BeginAcknowledge())).ToList();
        var committed = false;
        try
        {
            storage.Database.Write(connection =>
            {
                var now = storage.Database.Now;
                foreach (var command in _commands)
                {
                    command(connection, now);
                }

                foreach (var (job, fetchedAt) in fences)
                {
                    // Fenced like IFetchedJob.RemoveFromQueue: a job another worker took over is left to that worker.
                    connection.Execute(
                        "DELETE FROM JobQueue WHERE Id = $id AND FetchedAt = $fetchedAt", ("$id", job.QueueId), ("$fetchedAt", fetchedAt));
                }
            });
            committed = true;
        }
        finally
        {
            foreach (var (job, _) in fences)
            {
                job.EndAcknowledge(committed);
            }
        }

        _commands.Clear();
        _acknowledged.Clear();
        if (_enqueues)
        {
            storage.Signal.Notify();
        }
    }

    internal static void UpsertParameter(SqliteConnection connection, long jobId, string name, string? value) => connection.Execute(
        "INSERT INTO JobParameter (JobId, Name, Value) VALUES ($id, $name, $value) ON CONFLICT (JobId, Name) DO UPDATE SET Value = excluded.Value",
        ("$id", jobId), ("$name", name), ("$value", value));

    internal static void UpsertHash(SqliteConnection connection, string key, IEnumerable<KeyValuePair<string, string?>> pairs)
    {
        foreach (var (field, value) in pairs)
        {
            connection.Execute(
                "INSERT INTO Hash (\"Key\", Field, Value) VALUES ($key, $field, $value) ON CONFLICT (\"Key\", Field) DO UPDATE SET Value = excluded.Value",
                ("$key", key), ("$field", field), ("$value", value));
        }
    }

    private static long InsertState(SqliteConnection connection, long jobId, string name, string? reason, string data, long now) =>
        (long)connection.Scalar(
            "INSERT INTO State (JobId, Name, Reason, CreatedAt, Data) VALUES ($id, $name, $reason, $now, $data) RETURNING Id",
            ("$id", jobId), ("$name", name), ("$reason", reason), ("$now", now), ("$data", data))!;

    private static long At(long now, TimeSpan expireIn) => now + (long)expireIn.TotalMilliseconds;

    private void Counter(string key, int delta, TimeSpan? expireIn)
    {
        ArgumentNullException.ThrowIfNull(key);
        Buffer((c, now) => c.Execute(
            """
            INSERT INTO Counter ("Key", Value, ExpireAt) VALUES ($key, $delta, $expireAt)
            ON CONFLICT ("Key") DO UPDATE SET Value = Value + excluded.Value, ExpireAt = COALESCE(excluded.ExpireAt, Counter.ExpireAt)
            """,
            ("$key", key), ("$delta", delta), ("$expireAt", expireIn is { } e ? At(now, e) : null)));
    }

    private void Expire(string table, string key, TimeSpan? expireIn) => ForKey(key, (c, k, now) => c.Execute(
        $"UPDATE {table} SET ExpireAt = $at WHERE \"Key\" = $key", ("$at", expireIn is { } e ? At(now, e) : null), ("$key", k)));

    private void ForKey(string key, Action<SqliteConnection, string, long> command)
    {
        ArgumentNullException.ThrowIfNull(key);
        Buffer((c, now) => command(c, key, now));
    }

    /// <summary>A command on one job. An id that is not a row id names no job and is ignored; a row id of a deleted job fails the commit (foreign key).</summary>
    private void ForJob(string jobId, Action<SqliteConnection, long, long> command)
    {
        ArgumentNullException.ThrowIfNull(jobId);
        if (SqliteCommandExtensions.TryParseJobId(jobId, out var id))
        {
            Buffer((c, now) => command(c, id, now));
        }
    }

    private void Buffer(Action<SqliteConnection, long> command) => _commands.Add(command);
}
