using System.Globalization;
using System.Text.Json.Nodes;
using GpuLxc.Api.Infrastructure;
using Microsoft.Data.Sqlite;

namespace GpuLxc.Api.Events;

/// <summary>
/// The <c>event</c> table of <see cref="GpuLxcDatabase"/> (schema version 3): the only code that reads or writes it.
/// Ids are given by <see cref="EventLog"/> and stored as they are; <c>at</c> is Unix milliseconds.
/// </summary>
public sealed class EventStore(GpuLxcDatabase database)
{
    /// <summary>
    /// The largest id ever stored (0 for none): <c>sqlite_sequence</c> remembers it after retention deleted the row.
    /// Synchronous: read once, under the publisher's lock, before the first id is given.
    /// </summary>
    public long LastId()
    {
        // Microsoft.Data.Sqlite's async calls complete synchronously; this blocks no thread pool thread on I/O of its own.
        using var connection = database.OpenAsync(CancellationToken.None).GetAwaiter().GetResult();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'event'), 0), COALESCE((SELECT MAX(id) FROM event), 0))
            """;
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    /// <summary>Stores <paramref name="events"/> in one transaction (all or none).</summary>
    public async Task AppendAsync(IReadOnlyList<GpuLxcEvent> events, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await using var insert = connection.CreateCommand();
        insert.CommandText = "INSERT INTO event (id, type, at, data) VALUES ($id, $type, $at, $data)";
        var id = insert.Parameters.Add("$id", SqliteType.Integer);
        var type = insert.Parameters.Add("$type", SqliteType.Text);
        var at = insert.Parameters.Add("$at", SqliteType.Integer);
        var data = insert.Parameters.Add("$data", SqliteType.Text);
        foreach (var stored in events)
        {
            id.Value = stored.Id;
            type.Value = stored.Type;
            at.Value = stored.Time.ToUnixTimeMilliseconds();
            data.Value = stored.Data.ToJsonString();
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>At most <paramref name="limit"/> events with an id greater than <paramref name="afterId"/>, oldest first.</summary>
    public async Task<IReadOnlyList<GpuLxcEvent>> AfterAsync(long afterId, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, type, at, data FROM event WHERE id > $after ORDER BY id LIMIT $limit";
        command.Parameters.AddWithValue("$after", afterId);
        command.Parameters.AddWithValue("$limit", limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var events = new List<GpuLxcEvent>();
        while (await reader.ReadAsync(cancellationToken))
        {
            events.Add(new GpuLxcEvent(
                reader.GetInt64(0),
                reader.GetString(1),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)),
                JsonNode.Parse(reader.GetString(3)) as JsonObject ?? []));
        }

        return events;
    }

    /// <summary>Deletes all but the newest <paramref name="keep"/> events, and those older than <paramref name="before"/>; returns how many.</summary>
    public async Task<int> PruneAsync(int keep, DateTimeOffset before, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            DELETE FROM event
            WHERE at < $before OR id <= COALESCE((SELECT id FROM event ORDER BY id DESC LIMIT 1 OFFSET $keep), 0)
            """;
        command.Parameters.AddWithValue("$keep", keep);
        command.Parameters.AddWithValue("$before", before.ToUnixTimeMilliseconds());
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
