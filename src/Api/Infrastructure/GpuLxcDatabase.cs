using System.Globalization;
using Microsoft.Data.Sqlite;

namespace GpuLxc.Api.Infrastructure;

/// <summary>
/// The service's own SQLite database (<c>&lt;DataDir&gt;/gpulxc.db</c>, WAL): attachments, the audit trail, NVENC
/// leases, the job records with their logs, and the event log. One pooled connection per operation. The schema is versioned with
/// <c>PRAGMA user_version</c> and brought up to <see cref="SchemaVersion"/> on first use by ordered migrations, in
/// one write transaction, so services starting together on one file migrate it once. A file with a newer version
/// than this build knows is refused rather than guessed at.
/// </summary>
public sealed class GpuLxcDatabase
{
    public const string FileName = "gpulxc.db";

    /// <summary>The schema this build reads and writes: the number of <see cref="Migrations"/>.</summary>
    public static int SchemaVersion => Migrations.Length;

    /// <summary>
    /// Version 1: every table as it was before the schema had a version. <c>IF NOT EXISTS</c> lets it adopt a file
    /// made by such a build (version 0 with tables), as well as create a new one.
    /// </summary>
    private const string V1 = """
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

    /// <summary>
    /// <c>Migrations[n]</c> takes a version-n database to version n + 1. Append new steps; never edit a released one.
    /// </summary>
    private static readonly Action<SqliteTransaction>[] Migrations = [MigrateToV1, MigrateToV2, MigrateToV3];

    /// <summary>
    /// Version 2: an attachment edit's intent, written before the config is renamed and removed with the record's save
    /// (issue 15), so that a process killed in between leaves what the next start needs to finish or undo it.
    /// </summary>
    private const string V2 = """
        CREATE TABLE attachment_intent (
            container_id TEXT PRIMARY KEY,
            backend      TEXT NOT NULL,
            old_sha1     TEXT NOT NULL,
            new_sha1     TEXT NOT NULL,
            record       TEXT,
            key_name     TEXT,
            action       TEXT NOT NULL,
            diff         TEXT NOT NULL,
            created_at   TEXT NOT NULL
        );
        """;

    /// <summary>
    /// Version 3: the event log behind <c>GET /api/v1/events</c> (issue 18). <c>AUTOINCREMENT</c> keeps the largest id
    /// ever stored in <c>sqlite_sequence</c>, so that ids never repeat, even after retention deleted every row: a client
    /// resuming with <c>Last-Event-ID</c> across a restart never gets an id it has seen for another event.
    /// <c>at</c> is Unix milliseconds; <c>data</c> the event's JSON object.
    /// </summary>
    private const string V3 = """
        CREATE TABLE event (
            id   INTEGER PRIMARY KEY AUTOINCREMENT,
            type TEXT NOT NULL,
            at   INTEGER NOT NULL,
            data TEXT NOT NULL
        );
        CREATE INDEX event_at ON event (at);
        """;

    private readonly string _connectionString;
    private readonly string _path;
    private readonly Lazy<bool> _migrated;

    public GpuLxcDatabase(DataDirectory dataDirectory)
    {
        _path = dataDirectory.PrivateFile(FileName);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = _path,
            Pooling = true,
            ForeignKeys = true,
            DefaultTimeout = 30,
        }.ToString();
        // Not ExecutionAndPublication: that would cache a failure (a data dir briefly unwritable) for good. Migrating
        // checks the version inside its write transaction, so a rare concurrent second run changes nothing.
        _migrated = new Lazy<bool>(Migrate, LazyThreadSafetyMode.PublicationOnly);
    }

    /// <summary>An open connection to a database at <see cref="SchemaVersion"/>.</summary>
    /// <exception cref="InvalidOperationException">The file has a newer schema than this build knows.</exception>
    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        _ = _migrated.Value;
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        // With WAL, NORMAL keeps every commit across a crash of the process and the database consistent across
        // power loss, without an fsync per commit.
        await using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA synchronous = NORMAL";
        await pragma.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }

    private bool Migrate()
    {
        using var connection = new SqliteConnection(_connectionString);
        connection.Open();
        // WAL is a property of the file, and cannot be switched inside a transaction.
        Execute(connection, null, "PRAGMA journal_mode = WAL");

        // BEGIN IMMEDIATE: the version is read under the write lock, so of several services starting on one file,
        // one migrates and the others then find the current version.
        using var transaction = connection.BeginTransaction(deferred: false);
        var version = Convert.ToInt32(Scalar(transaction, "PRAGMA user_version"), CultureInfo.InvariantCulture);
        if (version > SchemaVersion)
        {
            throw new InvalidOperationException(
                $"{_path} has schema version {version}, but this build of GpuLxc knows versions up to {SchemaVersion}. " +
                $"Run the newer build, or point {DataDirectory.ConfigKey} at another directory.");
        }

        if (version < SchemaVersion)
        {
            for (; version < SchemaVersion; version++)
            {
                Migrations[version](transaction);
            }

            // PRAGMA takes no parameters; the value is this build's own constant.
            Execute(connection, transaction, $"PRAGMA user_version = {SchemaVersion.ToString(CultureInfo.InvariantCulture)}");
        }

        transaction.Commit();
        return true;
    }

    private static void MigrateToV1(SqliteTransaction transaction)
    {
        var connection = transaction.Connection!;
        Execute(connection, transaction, V1);
        // Files made before leases had owners have the table without the column.
        if (Convert.ToInt64(Scalar(transaction, "SELECT COUNT(*) FROM pragma_table_info('lease') WHERE name = 'owner'"), CultureInfo.InvariantCulture) == 0)
        {
            Execute(connection, transaction, "ALTER TABLE lease ADD COLUMN owner TEXT");
        }
    }

    private static void MigrateToV2(SqliteTransaction transaction) => Execute(transaction.Connection!, transaction, V2);

    private static void MigrateToV3(SqliteTransaction transaction) => Execute(transaction.Connection!, transaction, V3);

    private static void Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteTransaction transaction, string sql)
    {
        using var command = transaction.Connection!.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command.ExecuteScalar();
    }
}
