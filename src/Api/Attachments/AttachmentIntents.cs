using System.Globalization;
using System.Security.Cryptography;
using GpuLxc.Api.Infrastructure;
using Microsoft.Data.Sqlite;

namespace GpuLxc.Api.Attachments;

/// <summary>
/// An edit of a container's config that has begun and not yet been recorded: the SHA-1 (lowercase hex) of the config
/// bytes it replaces and of the bytes it writes, and what <see cref="AttachmentStore.SaveAsync"/> is to save once the
/// new bytes are in place (<c>Record</c> null: delete the attachment).
/// </summary>
public sealed record AttachmentIntent(
    string ContainerId, string Backend, string OldSha1, string NewSha1, AttachmentRecord? Record,
    string? KeyName, string Action, string Diff, DateTimeOffset CreatedAt)
{
    /// <summary>Lowercase hex SHA-1 of <paramref name="bytes"/>, as <see cref="OldSha1"/> and <see cref="NewSha1"/> hold it.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5350", Justification = "Tells two versions of one file apart; it protects nothing.")]
    public static string Sha1(byte[] bytes) => Convert.ToHexStringLower(SHA1.HashData(bytes));

    /// <summary>
    /// What an open intent means for a config that now holds <paramref name="current"/> (null: the file is gone): its
    /// new bytes → the rename happened, <see cref="IntentOutcome.Complete"/>; its old bytes → it did not,
    /// <see cref="IntentOutcome.Drop"/>; anything else → someone edited the file since, and the record already stored
    /// is left for drift to judge, <see cref="IntentOutcome.Superseded"/>.
    /// </summary>
    public IntentOutcome Resolve(byte[]? current)
    {
        if (current is null)
        {
            return IntentOutcome.Superseded;
        }

        var sha1 = Sha1(current);
        return sha1 == NewSha1 ? IntentOutcome.Complete : sha1 == OldSha1 ? IntentOutcome.Drop : IntentOutcome.Superseded;
    }
}

/// <summary>How an open <see cref="AttachmentIntent"/> is settled against the config's bytes.</summary>
public enum IntentOutcome
{
    /// <summary>The config holds the new bytes: save the record, remove the intent.</summary>
    Complete,

    /// <summary>The config holds the old bytes: the edit never happened; remove the intent.</summary>
    Drop,

    /// <summary>The config holds neither: remove the intent, keep the stored record; drift reports the difference.</summary>
    Superseded,
}

/// <summary>
/// The open intents in <see cref="GpuLxcDatabase"/> (table <c>attachment_intent</c>, one per container: its config lock
/// allows one edit at a time). An edit opens one before it renames the new config into place and completes it after,
/// saving the record and removing the intent in one transaction; a process killed in between leaves the intent, which
/// <see cref="AttachmentRecovery"/> settles against the file.
/// </summary>
public sealed class AttachmentIntents(GpuLxcDatabase database, AttachmentStore store)
{
    /// <summary>Stores <paramref name="intent"/>, replacing any open one of its container.</summary>
    public async Task OpenAsync(AttachmentIntent intent, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT OR REPLACE INTO attachment_intent (container_id, backend, old_sha1, new_sha1, record, key_name, action, diff, created_at)
            VALUES ($id, $backend, $old, $new, $record, $key, $action, $diff, $created)
            """;
        command.Parameters.AddWithValue("$id", intent.ContainerId);
        command.Parameters.AddWithValue("$backend", intent.Backend);
        command.Parameters.AddWithValue("$old", intent.OldSha1);
        command.Parameters.AddWithValue("$new", intent.NewSha1);
        command.Parameters.AddWithValue("$record", intent.Record is null ? DBNull.Value : AttachmentStore.Serialize(intent.Record));
        command.Parameters.AddWithValue("$key", (object?)intent.KeyName ?? DBNull.Value);
        command.Parameters.AddWithValue("$action", intent.Action);
        command.Parameters.AddWithValue("$diff", intent.Diff);
        command.Parameters.AddWithValue("$created", intent.CreatedAt.ToString("O", CultureInfo.InvariantCulture));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The container's open intent, or null.</summary>
    public async Task<AttachmentIntent?> FindAsync(string containerId, CancellationToken cancellationToken) =>
        (await QueryAsync("WHERE container_id = $id", containerId, cancellationToken)).SingleOrDefault();

    /// <summary>Every open intent, oldest first.</summary>
    public Task<List<AttachmentIntent>> ListAsync(CancellationToken cancellationToken) => QueryAsync("ORDER BY created_at", null, cancellationToken);

    /// <summary>Saves the intent's record with its audit entry and removes the intent, in one transaction.</summary>
    public Task CompleteAsync(AttachmentIntent intent, CancellationToken cancellationToken) =>
        store.SaveAsync(intent.ContainerId, intent.Record, intent.KeyName, intent.Action, intent.Diff, cancellationToken,
            transaction => DeleteAsync(transaction.Connection!, transaction, intent.ContainerId, cancellationToken));

    /// <summary>Removes the container's intent, leaving its record as stored.</summary>
    public async Task DropAsync(string containerId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await DeleteAsync(connection, null, containerId, cancellationToken);
    }

    private static async Task DeleteAsync(SqliteConnection connection, SqliteTransaction? transaction, string containerId, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "DELETE FROM attachment_intent WHERE container_id = $id";
        command.Parameters.AddWithValue("$id", containerId);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task<List<AttachmentIntent>> QueryAsync(string clause, string? containerId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT container_id, backend, old_sha1, new_sha1, record, key_name, action, diff, created_at FROM attachment_intent {clause}";
        if (containerId is not null)
        {
            command.Parameters.AddWithValue("$id", containerId);
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var intents = new List<AttachmentIntent>();
        while (await reader.ReadAsync(cancellationToken))
        {
            intents.Add(new AttachmentIntent(
                reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.IsDBNull(4) ? null : AttachmentStore.Deserialize(reader.GetString(4)),
                reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetString(6), reader.GetString(7),
                DateTimeOffset.Parse(reader.GetString(8), CultureInfo.InvariantCulture)));
        }

        return intents;
    }
}
