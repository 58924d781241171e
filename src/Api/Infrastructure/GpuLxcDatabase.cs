using Microsoft.Data.Sqlite;

namespace GpuLxc.Api.Infrastructure;

/// <summary>
/// The service's own SQLite database (<c>&lt;DataDir&gt;/gpulxc.db</c>, WAL): attachments, the audit trail, NVENC
/// leases and the job records with their logs. Tables only ever gain columns or are created when missing.
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
        CREATE TABLE IF NOT EXISTS lease (
            id           TEXT PRIMARY KEY,
            budget       TEXT NOT NULL,
            holder       TEXT NOT NULL,
            owner        TEXT,
            container_id TEXT,
            gpu          TEXT,
            created_at   INTEGER NOT NULL,
            expires_at   INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS lease_budget ON lease (budget, expires_at);
        CREATE INDEX IF NOT EXISTS lease_container ON lease (container_id, expires_at);
        CREATE TABLE IF NOT EXISTS audit (
            id           INTEGER PRIMARY KEY AUTOINCREMENT,
            at           TEXT NOT NULL,
            key_name     TEXT,
            container_id TEXT NOT NULL,
            action       TEXT NOT NULL,
            diff         TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS job (
            id               TEXT PRIMARY KEY,
            kind             TEXT NOT NULL,
            target           TEXT NOT NULL,
            state            TEXT NOT NULL,
            parameters       TEXT NOT NULL,
            requested_by     TEXT,
            created_at       INTEGER NOT NULL,
            started_at       INTEGER,
            finished_at      INTEGER,
            steps            TEXT NOT NULL,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            runner           TEXT,
            error            TEXT,
            result           TEXT,
            log_count        INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX IF NOT EXISTS job_state ON job (state, created_at);
        CREATE INDEX IF NOT EXISTS job_target ON job (target, created_at);
        CREATE TABLE IF NOT EXISTS job_log (
            job_id TEXT NOT NULL,
            line   INTEGER NOT NULL,
            at     INTEGER NOT NULL,
            stream TEXT NOT NULL,
            text   TEXT NOT NULL,
            PRIMARY KEY (job_id, line)
        ) WITHOUT ROWID;
        """;

    private readonly string _connectionString;
    private readonly Lazy<bool> _created;

    public GpuLxcDatabase(DataDirectory dataDirectory)
    {
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = dataDirectory.PrivateFile(FileName),
            Pooling = true,
            ForeignKeys = true,
            DefaultTimeout = 30,
        }.ToString();
        // Not ExecutionAndPublication: that would cache a failure (a data dir briefly unwritable) for good. Creating the
        // schema is idempotent, so a rare concurrent second run is harmless.
        _created = new Lazy<bool>(CreateSchema, LazyThreadSafetyMode.PublicationOnly);
    }

    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        _ = _created.Value;
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        // With WAL, NORMAL keeps every commit across a crash of the process and the database consistent across
        // power loss, without an fsync per commit.
        await using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA synchronous = NORMAL";
        await pragma.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }

    private bool CreateSchema()
    {
        using var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = Schema;
        command.ExecuteNonQuery();

        // Databases made before leases had owners gain the column.
        command.CommandText = "SELECT COUNT(*) FROM pragma_table_info('lease') WHERE name = 'owner'";
        if (Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 0)
        {
            command.CommandText = "ALTER TABLE lease ADD COLUMN owner TEXT";
            try
            {
                command.ExecuteNonQuery();
            }
            catch (SqliteException e) when (e.Message.Contains("duplicate column", StringComparison.Ordinal))
            {
                // Another connection added it a moment ago.
            }
        }

        return true;
    }
}
