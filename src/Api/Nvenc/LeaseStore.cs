using GpuLxc.Api.Infrastructure;
using Microsoft.Data.Sqlite;

namespace GpuLxc.Api.Nvenc;

/// <summary>
/// Leases in SQLite. A grant is one <c>INSERT … SELECT … WHERE count &lt; limit</c>: SQLite runs the count and the
/// insert under its write lock as one statement, so no interleaving — of threads here or of another process on the
/// same file — can grant past the limit. Writers of this process also take turns on a gate, which is cheaper than
/// contending for SQLite's lock.
/// </summary>
public sealed class LeaseStore(GpuLxcDatabase database, TimeProvider time) : IDisposable
{
    private const string Columns = "id, budget, holder, container_id, gpu, created_at, expires_at";

    private readonly SemaphoreSlim _writes = new(1, 1);

    public void Dispose() => _writes.Dispose();

    /// <summary>Grants a lease when the budget and the container's quota have room; returns it and the leases now active in the budget.</summary>
    public async Task<(Lease? Lease, int Active)> TryAcquireAsync(
        string budget, int? limit, string holder, string? containerId, string? gpu, TimeSpan ttl, int? quota, CancellationToken cancellationToken)
    {
        await _writes.WaitAsync(cancellationToken);
        try
        {
            // The clock is read inside the gate, so that grants are stamped in the order they are made.
            var now = time.GetUtcNow();
            var lease = new Lease(Guid.NewGuid().ToString("N"), holder, containerId, gpu, budget, now, now + ttl);
            await using var connection = await database.OpenAsync(cancellationToken);
            await using var insert = connection.CreateCommand();
            insert.CommandText = $"""
                INSERT INTO lease ({Columns})
                SELECT $id, $budget, $holder, $container, $gpu, $now, $expires
                WHERE ($limit IS NULL OR (SELECT COUNT(*) FROM lease WHERE budget = $budget AND expires_at > $now) < $limit)
                  AND ($quota IS NULL OR (SELECT COUNT(*) FROM lease WHERE container_id = $container AND expires_at > $now) < $quota)
                """;
            insert.Parameters.AddWithValue("$id", lease.Id);
            insert.Parameters.AddWithValue("$budget", budget);
            insert.Parameters.AddWithValue("$holder", holder);
            insert.Parameters.AddWithValue("$container", (object?)containerId ?? DBNull.Value);
            insert.Parameters.AddWithValue("$gpu", (object?)gpu ?? DBNull.Value);
            insert.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
            insert.Parameters.AddWithValue("$expires", lease.ExpiresAt.ToUnixTimeMilliseconds());
            insert.Parameters.AddWithValue("$limit", (object?)limit ?? DBNull.Value);
            insert.Parameters.AddWithValue("$quota", (object?)quota ?? DBNull.Value);
            var granted = await insert.ExecuteNonQueryAsync(cancellationToken) == 1;
            return (granted ? lease : null, await CountAsync(connection, budget, now, cancellationToken));
        }
        finally
        {
            _writes.Release();
        }
    }

    /// <summary>Extends an active lease to now + <paramref name="ttl"/>; null when it expired or was released.</summary>
    public async Task<Lease?> RenewAsync(string id, TimeSpan ttl, CancellationToken cancellationToken)
    {
        await _writes.WaitAsync(cancellationToken);
        try
        {
            var now = time.GetUtcNow();
            await using var connection = await database.OpenAsync(cancellationToken);
            await using var update = connection.CreateCommand();
            update.CommandText = $"UPDATE lease SET expires_at = $expires WHERE id = $id AND expires_at > $now RETURNING {Columns}";
            update.Parameters.AddWithValue("$id", id);
            update.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
            update.Parameters.AddWithValue("$expires", (now + ttl).ToUnixTimeMilliseconds());
            await using var reader = await update.ExecuteReaderAsync(cancellationToken);
            return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
        }
        finally
        {
            _writes.Release();
        }
    }

    /// <summary>Ends a lease; returns it when it was active (null when unknown, expired or already released).</summary>
    public async Task<Lease?> ReleaseAsync(string id, CancellationToken cancellationToken)
    {
        await _writes.WaitAsync(cancellationToken);
        try
        {
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            await using var connection = await database.OpenAsync(cancellationToken);
            await using var delete = connection.CreateCommand();
            delete.CommandText = $"DELETE FROM lease WHERE id = $id RETURNING {Columns}";
            delete.Parameters.AddWithValue("$id", id);
            await using var reader = await delete.ExecuteReaderAsync(cancellationToken);
            return await reader.ReadAsync(cancellationToken) && reader.GetInt64(6) > now ? Read(reader) : null;
        }
        finally
        {
            _writes.Release();
        }
    }

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

    /// <summary>Deletes expired leases (their slots were free from the moment they expired); returns how many.</summary>
    public async Task<int> ReapAsync(CancellationToken cancellationToken)
    {
        await _writes.WaitAsync(cancellationToken);
        try
        {
            await using var connection = await database.OpenAsync(cancellationToken);
            await using var delete = connection.CreateCommand();
            delete.CommandText = "DELETE FROM lease WHERE expires_at <= $now";
            delete.Parameters.AddWithValue("$now", time.GetUtcNow().ToUnixTimeMilliseconds());
            return await delete.ExecuteNonQueryAsync(cancellationToken);
        }
        finally
        {
            _writes.Release();
        }
    }

    private static async Task<int> CountAsync(SqliteConnection connection, string budget, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var count = connection.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM lease WHERE budget = $budget AND expires_at > $now";
        count.Parameters.AddWithValue("$budget", budget);
        count.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
        return Convert.ToInt32(await count.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static Lease Read(SqliteDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(2),
        reader.IsDBNull(3) ? null : reader.GetString(3),
        reader.IsDBNull(4) ? null : reader.GetString(4),
        reader.GetString(1),
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5)),
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6)));
}
