using GpuLxc.Api.Infrastructure;
using Microsoft.Data.Sqlite;

namespace GpuLxc.Api.Nvenc;

/// <summary>
/// Leases in SQLite. A grant is one <c>INSERT … SELECT … WHERE count &lt; limit</c>: SQLite runs the count and the
/// insert under its write lock as one statement, so no interleaving — of threads here or of another process on the
/// same file — can grant past the limit. Writes of this process take turns on a gate and share one connection with
/// prepared statements (used by one writer at a time, never concurrently), which is far cheaper than opening a
/// connection and contending for SQLite's lock per request.
/// </summary>
public sealed class LeaseStore(GpuLxcDatabase database, TimeProvider time) : IDisposable
{
    private const string Columns = "id, budget, holder, container_id, gpu, created_at, expires_at";

    private readonly SemaphoreSlim _writes = new(1, 1);
    private Writer? _writer;

    public void Dispose()
    {
        _writer?.Dispose();
        _writes.Dispose();
    }

    /// <summary>Grants a lease when the budget and the container's quota have room; returns it and the leases now active in the budget.</summary>
    public Task<(Lease? Lease, int Active)> TryAcquireAsync(
        string budget, int? limit, string holder, string? containerId, string? gpu, TimeSpan ttl, int? quota, CancellationToken cancellationToken) =>
        WriteAsync(async (writer, now) =>
        {
            var lease = new Lease(Guid.NewGuid().ToString("N"), holder, containerId, gpu, budget, now, now + ttl);
            var insert = writer.Insert;
            insert.Parameters["$id"].Value = lease.Id;
            insert.Parameters["$budget"].Value = budget;
            insert.Parameters["$holder"].Value = holder;
            insert.Parameters["$container"].Value = (object?)containerId ?? DBNull.Value;
            insert.Parameters["$gpu"].Value = (object?)gpu ?? DBNull.Value;
            insert.Parameters["$now"].Value = now.ToUnixTimeMilliseconds();
            insert.Parameters["$expires"].Value = lease.ExpiresAt.ToUnixTimeMilliseconds();
            insert.Parameters["$limit"].Value = (object?)limit ?? DBNull.Value;
            insert.Parameters["$quota"].Value = (object?)quota ?? DBNull.Value;
            // A row comes back only when the lease was granted, with the budget's active count after it.
            return await insert.ExecuteScalarAsync(cancellationToken) is long active ? (lease, (int)active) : ((Lease?)null, 0);
        }, cancellationToken);

    /// <summary>Extends an active lease to now + <paramref name="ttl"/>; null when it expired or was released.</summary>
    public Task<Lease?> RenewAsync(string id, TimeSpan ttl, CancellationToken cancellationToken) =>
        WriteAsync(async (writer, now) =>
        {
            writer.Renew.Parameters["$id"].Value = id;
            writer.Renew.Parameters["$now"].Value = now.ToUnixTimeMilliseconds();
            writer.Renew.Parameters["$expires"].Value = (now + ttl).ToUnixTimeMilliseconds();
            await using var reader = await writer.Renew.ExecuteReaderAsync(cancellationToken);
            return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
        }, cancellationToken);

    /// <summary>Ends a lease; returns it when it was active (null when unknown, expired or already released).</summary>
    public Task<Lease?> ReleaseAsync(string id, CancellationToken cancellationToken) =>
        WriteAsync(async (writer, now) =>
        {
            writer.Release.Parameters["$id"].Value = id;
            await using var reader = await writer.Release.ExecuteReaderAsync(cancellationToken);
            return await reader.ReadAsync(cancellationToken) && reader.GetInt64(6) > now.ToUnixTimeMilliseconds() ? Read(reader) : null;
        }, cancellationToken);

    /// <summary>Deletes expired leases (their slots were free from the moment they expired); returns how many.</summary>
    public Task<int> ReapAsync(CancellationToken cancellationToken) =>
        WriteAsync(async (writer, now) =>
        {
            writer.Reap.Parameters["$now"].Value = now.ToUnixTimeMilliseconds();
            return await writer.Reap.ExecuteNonQueryAsync(cancellationToken);
        }, cancellationToken);

    /// <summary>When the budget's earliest active lease lapses; null when it has none.</summary>
    public Task<DateTimeOffset?> NextExpiryAsync(string budget, CancellationToken cancellationToken) =>
        WriteAsync(async (writer, now) =>
        {
            writer.NextExpiry.Parameters["$budget"].Value = budget;
            writer.NextExpiry.Parameters["$now"].Value = now.ToUnixTimeMilliseconds();
            return await writer.NextExpiry.ExecuteScalarAsync(cancellationToken) is long milliseconds
                ? DateTimeOffset.FromUnixTimeMilliseconds(milliseconds)
                : (DateTimeOffset?)null;
        }, cancellationToken);

    public async Task<Lease?> FindAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var select = connection.CreateCommand();
        select.CommandText = $"SELECT {Columns} FROM lease WHERE id = $id AND expires_at > $now";
        select.Parameters.AddWithValue("$id", id);
        select.Parameters.AddWithValue("$now", time.GetUtcNow().ToUnixTimeMilliseconds());
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    /// <summary>Every lease active now (granted at or before now, lapsing after it), oldest first.</summary>
    public async Task<IReadOnlyList<Lease>> ActiveAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var select = connection.CreateCommand();
        select.CommandText = $"SELECT {Columns} FROM lease WHERE created_at <= $now AND expires_at > $now ORDER BY created_at, id";
        select.Parameters.AddWithValue("$now", time.GetUtcNow().ToUnixTimeMilliseconds());
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        var leases = new List<Lease>();
        while (await reader.ReadAsync(cancellationToken))
        {
            leases.Add(Read(reader));
        }

        return leases;
    }

    /// <summary>Runs a write on the shared connection, one at a time; the clock is read inside the gate, so that grants are stamped in the order they are made.</summary>
    private async Task<T> WriteAsync<T>(Func<Writer, DateTimeOffset, Task<T>> write, CancellationToken cancellationToken)
    {
        await _writes.WaitAsync(cancellationToken);
        try
        {
            _writer ??= await Writer.OpenAsync(database, cancellationToken);
            return await write(_writer, time.GetUtcNow());
        }
        catch (SqliteException)
        {
            // A failed statement may leave the connection in a state not worth reasoning about: start afresh.
            _writer?.Dispose();
            _writer = null;
            throw;
        }
        finally
        {
            _writes.Release();
        }
    }

    private static Lease Read(SqliteDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(2),
        reader.IsDBNull(3) ? null : reader.GetString(3),
        reader.IsDBNull(4) ? null : reader.GetString(4),
        reader.GetString(1),
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5)),
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6)));

    /// <summary>The writers' connection and its prepared statements.</summary>
    private sealed class Writer : IDisposable
    {
        private readonly SqliteConnection _connection;

        private Writer(SqliteConnection connection)
        {
            _connection = connection;
            Insert = Prepare($"""
                INSERT INTO lease ({Columns})
                SELECT $id, $budget, $holder, $container, $gpu, $now, $expires
                WHERE ($limit IS NULL OR (SELECT COUNT(*) FROM lease WHERE budget = $budget AND expires_at > $now) < $limit)
                  AND ($quota IS NULL OR (SELECT COUNT(*) FROM lease WHERE container_id = $container AND expires_at > $now) < $quota)
                RETURNING (SELECT COUNT(*) FROM lease WHERE budget = $budget AND expires_at > $now)
                """, "$id", "$budget", "$holder", "$container", "$gpu", "$now", "$expires", "$limit", "$quota");
            Renew = Prepare($"UPDATE lease SET expires_at = $expires WHERE id = $id AND expires_at > $now RETURNING {Columns}", "$id", "$now", "$expires");
            Release = Prepare($"DELETE FROM lease WHERE id = $id RETURNING {Columns}", "$id");
            Reap = Prepare("DELETE FROM lease WHERE expires_at <= $now", "$now");
            NextExpiry = Prepare("SELECT MIN(expires_at) FROM lease WHERE budget = $budget AND expires_at > $now", "$budget", "$now");
        }

        public SqliteCommand Insert { get; }

        public SqliteCommand Renew { get; }

        public SqliteCommand Release { get; }

        public SqliteCommand Reap { get; }

        public SqliteCommand NextExpiry { get; }

        public static async Task<Writer> OpenAsync(GpuLxcDatabase database, CancellationToken cancellationToken) =>
            new(await database.OpenAsync(cancellationToken));

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
}
