using System.Globalization;
using GpuLxc.Api.Infrastructure;
using Microsoft.Data.Sqlite;

namespace GpuLxc.Api.Tests.Infrastructure;

public sealed class GpuLxcDatabaseFacts : IDisposable
{
    /// <summary>The statements the last build before the schema was versioned ran on every start (0d1bfb1), verbatim.</summary>
    private const string UnversionedSchema = """
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

    private const string SomeOfEveryRow = """
        INSERT INTO attachment VALUES ('101', 'Proxmox', '{}', 'raw', '[]', '[]', '2026-11-23T12:00:00.0000000+00:00');
        INSERT INTO audit (at, key_name, container_id, action, diff) VALUES ('2026-11-23T12:00:00.0000000+00:00', 'ops', '101', 'attach', '+x');
        INSERT INTO job (id, kind, target, state, parameters, created_at, steps) VALUES ('j1', 'hostDriverInstall', 'host', 'succeeded', '{}', 1, '[]');
        INSERT INTO job_log VALUES ('j1', 1, 1, 'stdout', 'done');
        """;

    private readonly DataDirectory _dataDirectory = new(Directory.CreateTempSubdirectory("gpulxc-db-").FullName);

    public void Dispose()
    {
        _dataDirectory.Dispose();
        Directory.Delete(_dataDirectory.Path, recursive: true);
    }

    [Fact]
    public async Task OpenAsync_CreatesEveryTableAtTheCurrentVersion_WhenTheFileIsNew()
    {
        await using var connection = await new GpuLxcDatabase(_dataDirectory).OpenAsync(CancellationToken.None);

        Assert.Equal(GpuLxcDatabase.SchemaVersion, Count(connection, "PRAGMA user_version"));
        Assert.Equal("wal", Scalar(connection, "PRAGMA journal_mode"));
        Assert.Equal(["attachment", "attachment_intent", "audit", "event", "job", "job_log", "lease"], Tables(connection));
        Assert.Equal(1, Count(connection, "SELECT COUNT(*) FROM pragma_table_info('lease') WHERE name = 'owner'"));
    }

    [Fact]
    public async Task OpenAsync_AdoptsTheFileAndKeepsItsRows_WhenTheUnversionedBuildMadeIt()
    {
        Prepare(UnversionedSchema + SomeOfEveryRow +
                "INSERT INTO lease VALUES ('l1', 'host', 'jellyfin', 'ha', '101', NULL, 1, 2);");

        await using var connection = await new GpuLxcDatabase(_dataDirectory).OpenAsync(CancellationToken.None);

        Assert.Equal(GpuLxcDatabase.SchemaVersion, Count(connection, "PRAGMA user_version"));
        Assert.Equal("101|raw", Scalar(connection, "SELECT container_id || '|' || mode FROM attachment"));
        Assert.Equal("jellyfin|ha", Scalar(connection, "SELECT holder || '|' || owner FROM lease"));
        Assert.Equal("ops|attach", Scalar(connection, "SELECT key_name || '|' || action FROM audit"));
        Assert.Equal("succeeded|done", Scalar(connection, "SELECT state || '|' || text FROM job JOIN job_log ON job_id = id"));
    }

    [Fact]
    public async Task OpenAsync_AddsTheLeaseOwnerAndKeepsTheLeases_WhenTheFileIsOlderThanLeaseOwners()
    {
        var withoutOwner = UnversionedSchema.Replace("    owner        TEXT,\n", "", StringComparison.Ordinal);
        Assert.NotEqual(UnversionedSchema, withoutOwner);
        Prepare(withoutOwner + "INSERT INTO lease VALUES ('l1', 'host', 'jellyfin', '101', NULL, 1, 2);");

        await using var connection = await new GpuLxcDatabase(_dataDirectory).OpenAsync(CancellationToken.None);

        Assert.Equal(GpuLxcDatabase.SchemaVersion, Count(connection, "PRAGMA user_version"));
        Assert.Equal("jellyfin|101|", Scalar(connection, "SELECT holder || '|' || container_id || '|' || IFNULL(owner, '') FROM lease"));
    }

    [Fact]
    public async Task OpenAsync_RefusesAndLeavesTheTablesAlone_WhenTheSchemaIsNewerThanThisBuild()
    {
        var newer = GpuLxcDatabase.SchemaVersion + 1;
        Prepare($"CREATE TABLE future (x); PRAGMA user_version = {newer.ToString(CultureInfo.InvariantCulture)};");

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => new GpuLxcDatabase(_dataDirectory).OpenAsync(CancellationToken.None));

        Assert.Contains($"{_dataDirectory.File(GpuLxcDatabase.FileName)} has schema version {newer}", refused.Message, StringComparison.Ordinal);
        Assert.Contains($"knows versions up to {GpuLxcDatabase.SchemaVersion}", refused.Message, StringComparison.Ordinal);
        using var connection = Connect();
        Assert.Equal(["future"], Tables(connection));
        Assert.Equal(newer, Count(connection, "PRAGMA user_version"));
    }

    [Fact]
    public async Task OpenAsync_MigratesOnce_WhenServicesOnOneFileStartTogether()
    {
        Prepare(UnversionedSchema + SomeOfEveryRow);

        var opened = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => new GpuLxcDatabase(_dataDirectory).OpenAsync(CancellationToken.None))));

        foreach (var connection in opened)
        {
            await connection.DisposeAsync();
        }

        using var check = Connect();
        Assert.Equal(GpuLxcDatabase.SchemaVersion, Count(check, "PRAGMA user_version"));
        Assert.Equal(1, Count(check, "SELECT COUNT(*) FROM attachment"));
    }

    /// <summary>Steps through every statement's result, so that an error in any of them fails the test.</summary>
    private void Prepare(string sql)
    {
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        while (reader.NextResult())
        {
        }
    }

    private SqliteConnection Connect()
    {
        var connection = new SqliteConnection($"Data Source={_dataDirectory.File(GpuLxcDatabase.FileName)};Pooling=False");
        connection.Open();
        return connection;
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private static long Count(SqliteConnection connection, string sql) => Convert.ToInt64(Scalar(connection, sql), CultureInfo.InvariantCulture);

    private static List<string> Tables(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name";
        using var reader = command.ExecuteReader();
        var tables = new List<string>();
        while (reader.Read())
        {
            tables.Add(reader.GetString(0));
        }

        return tables;
    }
}
