using Microsoft.Data.Sqlite;

namespace GpuLxc.Api.Infrastructure;

/// <summary>
/// The service's own SQLite database (<c>&lt;DataDir&gt;/gpulxc.db</c>, WAL): attachments and the audit trail.
/// One pooled connection per operation; the schema is created on first use.
/// </summary>
public sealed class GpuLxcDatabase
{
    public const string FileName = "gpulxc.db";

    private const string Schema = """
        PRAGMA journal_mode = WAL;
        CREATE TABLE IF NOT EXISTS attachment (
            container_id TEXT PRIMARY KEY,
            backend      TEXT NOT NULL,
            request      TEXT NOT NULL,
            mode         TEXT NOT NULL,
            lines        TEXT NOT NULL,
            nodes        TEXT NOT NULL,
            updated_at   TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS audit (
            id           INTEGER PRIMARY KEY AUTOINCREMENT,
            at           TEXT NOT NULL,
            key_name     TEXT,
            container_id TEXT NOT NULL,
            action       TEXT NOT NULL,
            diff         TEXT NOT NULL
        );
        """;

    private readonly string _connectionString;
    private readonly Lazy<bool> _created;

    public GpuLxcDatabase(DataDirectory dataDirectory)
    {
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = dataDirectory.File(FileName),
            Pooling = true,
            ForeignKeys = true,
            DefaultTimeout = 30,
        }.ToString();
        _created = new Lazy<bool>(CreateSchema);
    }

    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        _ = _created.Value;
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    private bool CreateSchema()
    {
        using var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = Schema;
        command.ExecuteNonQuery();
        return true;
    }
}
