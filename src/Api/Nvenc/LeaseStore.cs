// Over 300 lines: one writer loop with its prepared statements and group commit; splitting the statements from the loop that enlists them would only spread one transaction over files.
using System.Text.Json;
using System.Threading.Channels;
using GpuLxc.Api.Infrastructure;
using Microsoft.Data.Sqlite;

namespace GpuLxc.Api.Nvenc;

/// <summary>
/// Leases in SQLite. A grant is one <c>INSERT … SELECT … WHERE in-use &lt; limit</c>, the sessions observed passed in
/// as parameters: SQLite counts the leases per holder, combines them with the sessions and inserts under its write lock
/// as one statement, so no interleaving — of threads here or of another process on the same file — can grant past the
/// limit. Writes of this process go through one writer loop on one connection with
/// prepared statements, and are group-committed: the writes waiting when the loop comes round run in order in one
/// <c>BEGIN IMMEDIATE</c> transaction, and each caller is answered only after that transaction commits.
/// </summary>
public sealed class LeaseStore : IDisposable
{
    private const string Columns = "id, budget, holder, owner, container_id, gpu, created_at, expires_at";
    private const int MaxBatch = 256;

    private readonly GpuLxcDatabase _database;
    private readonly TimeProvider _time;
    private readonly Channel<PendingWrite> _writes = Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writer;

    public LeaseStore(GpuLxcDatabase database, TimeProvider time)
    {
        _database = database;
        _time = time;
        _writer = Task.Run(WriteLoopAsync);
    }

    public void Dispose()
    {
        _writes.Writer.TryComplete();
        _writer.GetAwaiter().GetResult();
    }

    /// <summary>
    /// Grants a lease when the budget and the container's quota have room; returns it and the leases now active in the
    /// budget. Room means <see cref="ObservedUse.InUse"/> over the budget's active leases and <paramref name="observed"/>
    /// is below <paramref name="limit"/> (null: unrestricted), counted in the inserting statement.
    /// </summary>
    public Task<(Lease? Lease, int Active)> TryAcquireAsync(
        string budget, int? limit, ObservedUse observed, string holder, string? owner, string? containerId, string? gpu, TimeSpan ttl, int? quota, CancellationToken cancellationToken) =>
        WriteAsync(async (writer, now) =>
        {
            var lease = new Lease(Guid.NewGuid().ToString("N"), holder, owner, containerId, gpu, budget, now, now + ttl);
            var insert = writer.Insert;
            insert.Parameters["$id"].Value = lease.Id;
            insert.Parameters["$budget"].Value = budget;
            insert.Parameters["$holder"].Value = holder;
            insert.Parameters["$owner"].Value = (object?)owner ?? DBNull.Value;
            insert.Parameters["$container"].Value = (object?)containerId ?? DBNull.Value;
            insert.Parameters["$gpu"].Value = (object?)gpu ?? DBNull.Value;
            insert.Parameters["$now"].Value = now.ToUnixTimeMilliseconds();
            insert.Parameters["$expires"].Value = lease.ExpiresAt.ToUnixTimeMilliseconds();
            insert.Parameters["$limit"].Value = (object?)limit ?? DBNull.Value;
            insert.Parameters["$sessions"].Value = JsonSerializer.Serialize(observed.ByHolder);
            insert.Parameters["$unnamed"].Value = observed.Unnamed;
            insert.Parameters["$quota"].Value = (object?)quota ?? DBNull.Value;
            // A row comes back only when the lease was granted, with the budget's active count after it.
            return await insert.ExecuteScalarAsync() is long active ? (lease, (int)active) : ((Lease?)null, 0);
        }, cancellationToken, skipIfCancelled: true);

    /// <summary>
    /// Extends an active lease to now + <paramref name="ttl"/>; null when it expired, was released, or is not
    /// <paramref name="owner"/>'s (null owner: any lease).
    /// </summary>
    public Task<Lease?> RenewAsync(string id, string? owner, TimeSpan ttl, CancellationToken cancellationToken) =>
        WriteAsync(async (writer, now) =>
        {
            writer.Renew.Parameters["$id"].Value = id;
            writer.Renew.Parameters["$owner"].Value = (object?)owner ?? DBNull.Value;
            writer.Renew.Parameters["$now"].Value = now.ToUnixTimeMilliseconds();
            writer.Renew.Parameters["$expires"].Value = (now + ttl).ToUnixTimeMilliseconds();
            await using var reader = await writer.Renew.ExecuteReaderAsync();
            return await reader.ReadAsync() ? Read(reader) : null;
        }, cancellationToken);

    /// <summary>
    /// Ends a lease of <paramref name="owner"/>'s (null owner: any lease); returns it when it was active (null when
    /// unknown, expired, already released, or another's).
    /// </summary>
    public Task<Lease?> ReleaseAsync(string id, string? owner, CancellationToken cancellationToken) =>
        WriteAsync(async (writer, now) =>
        {
            writer.Release.Parameters["$id"].Value = id;
            writer.Release.Parameters["$owner"].Value = (object?)owner ?? DBNull.Value;
            await using var reader = await writer.Release.ExecuteReaderAsync();
            return await reader.ReadAsync() && reader.GetInt64(7) > now.ToUnixTimeMilliseconds() ? Read(reader) : null;
        }, cancellationToken);

    /// <summary>Deletes expired leases (their slots were free from the moment they expired); returns how many.</summary>
    public Task<int> ReapAsync(CancellationToken cancellationToken) =>
        WriteAsync(async (writer, now) =>
        {
            writer.Reap.Parameters["$now"].Value = now.ToUnixTimeMilliseconds();
            return await writer.Reap.ExecuteNonQueryAsync();
        }, cancellationToken);

    /// <summary>When the budget's earliest active lease lapses; null when it has none.</summary>
    public Task<DateTimeOffset?> NextExpiryAsync(string budget, CancellationToken cancellationToken) =>
        WriteAsync(async (writer, now) =>
        {
            writer.NextExpiry.Parameters["$budget"].Value = budget;
            writer.NextExpiry.Parameters["$now"].Value = now.ToUnixTimeMilliseconds();
            return await writer.NextExpiry.ExecuteScalarAsync() is long milliseconds
                ? DateTimeOffset.FromUnixTimeMilliseconds(milliseconds)
                : (DateTimeOffset?)null;
        }, cancellationToken);

    /// <summary>Active leases held for <paramref name="containerId"/>.</summary>
    public async Task<int> CountForContainerAsync(string containerId, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var count = connection.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM lease WHERE container_id = $container AND expires_at > $now";
        count.Parameters.AddWithValue("$container", containerId);
        count.Parameters.AddWithValue("$now", _time.GetUtcNow().ToUnixTimeMilliseconds());
        return Convert.ToInt32(await count.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<Lease?> FindAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var select = connection.CreateCommand();
        select.CommandText = $"SELECT {Columns} FROM lease WHERE id = $id AND expires_at > $now";
        select.Parameters.AddWithValue("$id", id);
        select.Parameters.AddWithValue("$now", _time.GetUtcNow().ToUnixTimeMilliseconds());
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    /// <summary>Every lease active now (granted at or before now, lapsing after it), oldest first.</summary>
    public async Task<IReadOnlyList<Lease>> ActiveAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var select = connection.CreateCommand();
        select.CommandText = $"SELECT {Columns} FROM lease WHERE created_at <= $now AND expires_at > $now ORDER BY created_at, id";
        select.Parameters.AddWithValue("$now", _time.GetUtcNow().ToUnixTimeMilliseconds());
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        var leases = new List<Lease>();
        while (await reader.ReadAsync(cancellationToken))
        {
            leases.Add(Read(reader));
        }

        return leases;
    }

    /// <summary>
    /// Queues a write for the writer loop and waits until its transaction has committed. A grant whose caller gave up
    /// before its turn is skipped (nobody would hear of the lease); a release or renewal always runs.
    /// </summary>
    private Task<T> WriteAsync<T>(Func<Writer, DateTimeOffset, Task<T>> write, CancellationToken cancellationToken, bool skipIfCancelled = false)
    {
        var pending = new PendingWrite<T>(write, skipIfCancelled ? cancellationToken : CancellationToken.None);
        return _writes.Writer.TryWrite(pending) ? pending.Result : Task.FromException<T>(new ObjectDisposedException(nameof(LeaseStore)));
    }

    private async Task WriteLoopAsync()
    {
        Writer? writer = null;
        var batch = new List<PendingWrite>(MaxBatch);
        try
        {
            while (await _writes.Reader.WaitToReadAsync())
            {
                while (batch.Count < MaxBatch && _writes.Reader.TryRead(out var next))
                {
                    batch.Add(next);
                }

                try
                {
                    writer ??= await Writer.OpenAsync(_database, CancellationToken.None);
                    await using (var transaction = (SqliteTransaction)await writer.Connection.BeginTransactionAsync())
                    {
                        writer.Enlist(transaction);
                        foreach (var pending in batch)
                        {
                            // The clock is read per write, in order, so that grants are stamped in the order they are made.
                            await pending.ExecuteAsync(writer, _time.GetUtcNow());
                        }

                        await transaction.CommitAsync();
                    }

                    batch.ForEach(pending => pending.Complete());
                }
                catch (Exception e)
                {
                    // Nothing of the batch committed: fail every caller, and start afresh on a new connection.
                    batch.ForEach(pending => pending.Fail(e));
                    writer?.Dispose();
                    writer = null;
                }

                batch.Clear();
            }
        }
        finally
        {
            writer?.Dispose();
        }
    }

    private static Lease Read(SqliteDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(2),
        reader.IsDBNull(3) ? null : reader.GetString(3),
        reader.IsDBNull(4) ? null : reader.GetString(4),
        reader.IsDBNull(5) ? null : reader.GetString(5),
        reader.GetString(1),
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6)),
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(7)));

    /// <summary>The writers' connection and its prepared statements.</summary>
    private sealed class Writer : IDisposable
    {
        private readonly SqliteConnection _connection;

        private Writer(SqliteConnection connection)
        {
            _connection = connection;
            Insert = Prepare($"""
                INSERT INTO lease ({Columns})
                SELECT $id, $budget, $holder, $owner, $container, $gpu, $now, $expires
                WHERE ($limit IS NULL OR $unnamed + (
                        SELECT COALESCE(SUM(MAX(leases, sessions)), 0) FROM (
                            SELECT holder, SUM(leases) AS leases, SUM(sessions) AS sessions FROM (
                                SELECT COALESCE(container_id, '') AS holder, 1 AS leases, 0 AS sessions
                                FROM lease WHERE budget = $budget AND expires_at > $now
                                UNION ALL
                                SELECT key, 0, value FROM json_each($sessions))
                            GROUP BY holder)) < $limit)
                  AND ($quota IS NULL OR (SELECT COUNT(*) FROM lease WHERE container_id = $container AND expires_at > $now) < $quota)
                RETURNING (SELECT COUNT(*) FROM lease WHERE budget = $budget AND expires_at > $now)
                """, "$id", "$budget", "$holder", "$owner", "$container", "$gpu", "$now", "$expires", "$limit", "$sessions", "$unnamed", "$quota");
            Renew = Prepare($"UPDATE lease SET expires_at = $expires WHERE id = $id AND expires_at > $now AND ($owner IS NULL OR owner IS $owner) RETURNING {Columns}",
                "$id", "$owner", "$now", "$expires");
            Release = Prepare($"DELETE FROM lease WHERE id = $id AND ($owner IS NULL OR owner IS $owner) RETURNING {Columns}", "$id", "$owner");
            Reap = Prepare("DELETE FROM lease WHERE expires_at <= $now", "$now");
            NextExpiry = Prepare("SELECT MIN(expires_at) FROM lease WHERE budget = $budget AND expires_at > $now", "$budget", "$now");
        }

        public SqliteCommand Insert { get; }

        public SqliteCommand Renew { get; }

        public SqliteCommand Release { get; }

        public SqliteCommand Reap { get; }

        public SqliteCommand NextExpiry { get; }

        public SqliteConnection Connection => _connection;

        public static async Task<Writer> OpenAsync(GpuLxcDatabase database, CancellationToken cancellationToken) =>
            new(await database.OpenAsync(cancellationToken));

        public void Enlist(SqliteTransaction transaction)
        {
            foreach (var command in (SqliteCommand[])[Insert, Renew, Release, Reap, NextExpiry])
            {
                command.Transaction = transaction;
            }
        }

        public void Dispose()
        {
            foreach (var command in (SqliteCommand[])[Insert, Renew, Release, Reap, NextExpiry])
            {
                command.Dispose();
            }

            _connection.Dispose();
        }

        private SqliteCommand Prepare(string sql, params string[] parameters)
        {
            var command = _connection.CreateCommand();
            command.CommandText = sql;
            foreach (var parameter in parameters)
            {
                command.Parameters.Add(new SqliteParameter(parameter, DBNull.Value));
            }

            command.Prepare();
            return command;
        }
    }

    private abstract class PendingWrite
    {
        public abstract Task ExecuteAsync(Writer writer, DateTimeOffset now);

        public abstract void Complete();

        public abstract void Fail(Exception exception);
    }

    /// <summary>A write and its caller, answered once the write's transaction has committed (or failed).</summary>
    private sealed class PendingWrite<T>(Func<Writer, DateTimeOffset, Task<T>> write, CancellationToken cancellationToken) : PendingWrite
    {
        private readonly TaskCompletionSource<T> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T? _value;
        private bool _skipped;

        public Task<T> Result => _result.Task;

        public override async Task ExecuteAsync(Writer writer, DateTimeOffset now)
        {
            _skipped = cancellationToken.IsCancellationRequested;
            if (!_skipped)
            {
                _value = await write(writer, now);
            }
        }

        public override void Complete()
        {
            if (_skipped)
            {
                _result.TrySetCanceled(cancellationToken);
            }
            else
            {
                _result.TrySetResult(_value!);
            }
        }

        public override void Fail(Exception exception) => _result.TrySetException(exception);
    }
}
