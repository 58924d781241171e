using Microsoft.Data.Sqlite;

namespace GpuLxc.Hangfire.Sqlite;

/// <summary>
/// The tables. Timestamps are UTC Unix milliseconds; <c>ExpireAt</c> is null for rows that never expire. Job ids
/// come from <c>AUTOINCREMENT</c>, so an id is never handed out twice, even after the newest job was deleted.
/// </summary>
internal static class SqliteSchema
{
    public const int Version = 1;

    private const string CreateV1 = """
        CREATE TABLE Job (
            Id             INTEGER PRIMARY KEY AUTOINCREMENT,
            StateId        INTEGER,
            StateName      TEXT,
            InvocationData TEXT NOT NULL,
            Arguments      TEXT NOT NULL,
            CreatedAt      INTEGER NOT NULL,
            ExpireAt       INTEGER
        );
        CREATE INDEX Job_StateName ON Job (StateName, Id);
        CREATE INDEX Job_ExpireAt ON Job (ExpireAt) WHERE ExpireAt IS NOT NULL;

        CREATE TABLE State (
            Id        INTEGER PRIMARY KEY AUTOINCREMENT,
            JobId     INTEGER NOT NULL REFERENCES Job (Id) ON DELETE CASCADE,
            Name      TEXT NOT NULL,
            Reason    TEXT,
            CreatedAt INTEGER NOT NULL,
            Data      TEXT
        );
        CREATE INDEX State_JobId ON State (JobId);

        CREATE TABLE JobParameter (
            JobId INTEGER NOT NULL REFERENCES Job (Id) ON DELETE CASCADE,
            Name  TEXT NOT NULL,
            Value TEXT,
            PRIMARY KEY (JobId, Name)
        );

        CREATE TABLE JobQueue (
            Id        INTEGER PRIMARY KEY AUTOINCREMENT,
            JobId     INTEGER NOT NULL REFERENCES Job (Id) ON DELETE CASCADE,
            Queue     TEXT NOT NULL,
            FetchedAt INTEGER
        );
        CREATE INDEX JobQueue_Queue ON JobQueue (Queue, Id);
        CREATE INDEX JobQueue_JobId ON JobQueue (JobId);

        CREATE TABLE Server (
            Id            TEXT PRIMARY KEY,
            Data          TEXT NOT NULL,
            LastHeartbeat INTEGER NOT NULL
        );

        CREATE TABLE "Set" (
            Id       INTEGER PRIMARY KEY,
            "Key"    TEXT NOT NULL,
            Value    TEXT NOT NULL,
            Score    REAL NOT NULL,
            ExpireAt INTEGER,
            UNIQUE ("Key", Value)
        );
        CREATE INDEX Set_Score ON "Set" ("Key", Score);
        CREATE INDEX Set_ExpireAt ON "Set" (ExpireAt) WHERE ExpireAt IS NOT NULL;

        CREATE TABLE List (
            Id       INTEGER PRIMARY KEY AUTOINCREMENT,
            "Key"    TEXT NOT NULL,
            Value    TEXT,
            ExpireAt INTEGER
        );
        CREATE INDEX List_Key ON List ("Key", Id);
        CREATE INDEX List_ExpireAt ON List (ExpireAt) WHERE ExpireAt IS NOT NULL;

        CREATE TABLE Hash (
            Id       INTEGER PRIMARY KEY,
            "Key"    TEXT NOT NULL,
            Field    TEXT NOT NULL,
            Value    TEXT,
            ExpireAt INTEGER,
            UNIQUE ("Key", Field)
        );
        CREATE INDEX Hash_ExpireAt ON Hash (ExpireAt) WHERE ExpireAt IS NOT NULL;

        CREATE TABLE Counter (
            Id       INTEGER PRIMARY KEY,
            "Key"    TEXT NOT NULL UNIQUE,
            Value    INTEGER NOT NULL,
            ExpireAt INTEGER
        );
        CREATE INDEX Counter_ExpireAt ON Counter (ExpireAt) WHERE ExpireAt IS NOT NULL;

        CREATE TABLE Lock (
            Resource TEXT PRIMARY KEY,
            Owner    TEXT NOT NULL,
            ExpireAt INTEGER NOT NULL
        );
        """;

    /// <summary>Creates or upgrades the schema; safe when several processes start on one file at once.</summary>
    public static void Install(SqliteDatabase database)
    {
        var directory = System.IO.Path.GetDirectoryName(database.Path);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        using (var connection = database.Open())
        {
            // WAL is a property of the file: readers never block the writer, and it stays set for every connection.
            connection.Execute("PRAGMA journal_mode = WAL");
        }

        database.Write(connection =>
        {
            var version = connection.Count("PRAGMA user_version");
            if (version > Version)
            {
                throw new InvalidOperationException(
                    $"{database.Path} has job storage schema {version}; this build knows up to {Version}. Use the newer build or another file.");
            }

            if (version < 1)
            {
                connection.Execute(CreateV1);
            }

            connection.Execute($"PRAGMA user_version = {Version}");
        });
    }

    /// <summary>True when a table exists (tests check that the schema is what the code expects).</summary>
    internal static bool HasTable(SqliteConnection connection, string table) =>
        connection.Count("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $name", ("$name", table)) == 1;
}
