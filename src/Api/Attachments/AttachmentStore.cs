using System.Globalization;
using System.Text.Json;
using GpuLxc.Api.Infrastructure;

namespace GpuLxc.Api.Attachments;

/// <summary>
/// A line of an attachment, with its real key (<c>dev3</c>, not <c>dev</c>). <see cref="Added"/>: GpuLxc wrote it, so a
/// detach removes it; a line that was already in the config by hand is adopted, and left there on detach.
/// </summary>
public sealed record RecordedLine(string Key, string Value, bool Added);

/// <summary>What GpuLxc attached to a container: the request, and exactly the lines it added.</summary>
public sealed record AttachmentRecord(
    string ContainerId,
    string Backend,
    AttachRequest Request,
    AttachmentMode Mode,
    IReadOnlyList<string> Gpus,
    IReadOnlyList<RecordedLine> Lines,
    IReadOnlyList<AttachedNode> Nodes,
    DateTimeOffset UpdatedAt);

/// <summary>Attachments and the audit trail in <see cref="GpuLxcDatabase"/>.</summary>
public sealed class AttachmentStore(GpuLxcDatabase database, TimeProvider time)
{
    private static readonly JsonSerializerOptions Json = CreateJsonOptions();

    public async Task<AttachmentRecord?> FindAsync(string containerId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT container_id, backend, request, mode, lines, nodes, updated_at FROM attachment WHERE container_id = $id";
        command.Parameters.AddWithValue("$id", containerId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    public async Task<IReadOnlyList<AttachmentRecord>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT container_id, backend, request, mode, lines, nodes, updated_at FROM attachment ORDER BY container_id";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var records = new List<AttachmentRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            records.Add(Read(reader));
        }

        return records;
    }

    /// <summary>
    /// Saves (or with null deletes) the attachment and appends the audit record, in one transaction, with
    /// <paramref name="alsoInTransaction"/> when given (<see cref="AttachmentIntents"/> removes the edit's intent there).
    /// </summary>
    public async Task SaveAsync(
        string containerId, AttachmentRecord? record, string? keyName, string action, string diff, CancellationToken cancellationToken,
        Func<Microsoft.Data.Sqlite.SqliteTransaction, Task>? alsoInTransaction = null)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = (Microsoft.Data.Sqlite.SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);

        await using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            if (record is null)
            {
                command.CommandText = "DELETE FROM attachment WHERE container_id = $id";
                command.Parameters.AddWithValue("$id", containerId);
            }
            else
            {
                command.CommandText = """
                    INSERT INTO attachment (container_id, backend, request, mode, lines, nodes, updated_at)
                    VALUES ($id, $backend, $request, $mode, $lines, $nodes, $updated)
                    ON CONFLICT (container_id) DO UPDATE SET backend = excluded.backend, request = excluded.request,
                        mode = excluded.mode, lines = excluded.lines, nodes = excluded.nodes, updated_at = excluded.updated_at
                    """;
                command.Parameters.AddWithValue("$id", containerId);
                command.Parameters.AddWithValue("$backend", record.Backend);
                command.Parameters.AddWithValue("$request", JsonSerializer.Serialize(new StoredRequest(record.Request, record.Gpus), Json));
                command.Parameters.AddWithValue("$mode", record.Mode.ToString());
                command.Parameters.AddWithValue("$lines", JsonSerializer.Serialize(record.Lines, Json));
                command.Parameters.AddWithValue("$nodes", JsonSerializer.Serialize(record.Nodes, Json));
                command.Parameters.AddWithValue("$updated", record.UpdatedAt.ToString("O", CultureInfo.InvariantCulture));
            }

            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var audit = connection.CreateCommand())
        {
            audit.Transaction = transaction;
            audit.CommandText = "INSERT INTO audit (at, key_name, container_id, action, diff) VALUES ($at, $key, $id, $action, $diff)";
            audit.Parameters.AddWithValue("$at", time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture));
            audit.Parameters.AddWithValue("$key", (object?)keyName ?? DBNull.Value);
            audit.Parameters.AddWithValue("$id", containerId);
            audit.Parameters.AddWithValue("$action", action);
            audit.Parameters.AddWithValue("$diff", diff);
            await audit.ExecuteNonQueryAsync(cancellationToken);
        }

        if (alsoInTransaction is not null)
        {
            await alsoInTransaction(transaction);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>The audit trail of one container, oldest first.</summary>
    public async Task<IReadOnlyList<(string At, string? KeyName, string Action, string Diff)>> AuditAsync(string containerId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT at, key_name, action, diff FROM audit WHERE container_id = $id ORDER BY id";
        command.Parameters.AddWithValue("$id", containerId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var entries = new List<(string, string?, string, string)>();
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add((reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetString(2), reader.GetString(3)));
        }

        return entries;
    }

    private static AttachmentRecord Read(Microsoft.Data.Sqlite.SqliteDataReader reader)
    {
        var stored = JsonSerializer.Deserialize<StoredRequest>(reader.GetString(2), Json)!;
        return new AttachmentRecord(
            reader.GetString(0),
            reader.GetString(1),
            stored.Request,
            Enum.Parse<AttachmentMode>(reader.GetString(3)),
            stored.Gpus,
            JsonSerializer.Deserialize<List<RecordedLine>>(reader.GetString(4), Json)!,
            JsonSerializer.Deserialize<List<AttachedNode>>(reader.GetString(5), Json)!,
            DateTimeOffset.Parse(reader.GetString(6), CultureInfo.InvariantCulture));
    }

    /// <summary>A record as JSON, for a copy kept elsewhere in the database (an intent's).</summary>
    internal static string Serialize(AttachmentRecord record) => JsonSerializer.Serialize(record, Json);

    internal static AttachmentRecord Deserialize(string json) => JsonSerializer.Deserialize<AttachmentRecord>(json, Json)!;

    private static JsonSerializerOptions CreateJsonOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        ApiJson.Configure(options);
        return options;
    }

    private sealed record StoredRequest(AttachRequest Request, IReadOnlyList<string> Gpus);
}
