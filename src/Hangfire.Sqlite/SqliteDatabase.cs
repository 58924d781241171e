using System.Globalization;
using Microsoft.Data.Sqlite;

namespace GpuLxc.Hangfire.Sqlite;

/// <summary>
/// The storage's database file: opens one pooled connection per operation (never shared across threads) and runs
/// every write in a short <c>BEGIN IMMEDIATE</c> transaction, so a writer takes the write lock up front and never
/// fails half-way on a stale snapshot.
/// </summary>
internal sealed class SqliteDatabase
{
    private readonly string _connectionString;
    private readonly string _pragmas;

    public SqliteDatabase(string path, SqliteStorageOptions options)
    {
        Path = System.IO.Path.GetFullPath(path);
        Options = options;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            ForeignKeys = true,
            DefaultTimeout = (int)Math.Ceiling(options.BusyTimeout.TotalSeconds),
        }.ToString();
        // busy_timeout makes SQLite itself wait for the write lock (short sleeps), instead of failing at once;
        // journal_size_limit gives the WAL file back to the disk after a burst, once a checkpoint resets it.
        _pragmas = string.Create(
            CultureInfo.InvariantCulture,
            $"PRAGMA busy_timeout = {(long)options.BusyTimeout.TotalMilliseconds}; PRAGMA synchronous = NORMAL; PRAGMA journal_size_limit = 16777216;");
    }

    public string Path { get; }

    public SqliteStorageOptions Options { get; }

    public long Now => Options.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();

    public SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            connection.Open();
            using var pragma = connection.CreateCommand();
            pragma.CommandText = _pragmas;
            pragma.ExecuteNonQuery();
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Runs <paramref name="body"/> in one write transaction: all of it commits, or none of it.</summary>
    public T Write<T>(Func<SqliteConnection, T> body)
    {
        using var connection = Open();
        Execute(connection, "BEGIN IMMEDIATE");
        T result;
        try
        {
            result = body(connection);
        }
        catch
        {
            Rollback(connection);
            throw;
        }

        try
        {
            Execute(connection, "COMMIT");
        }
        catch
        {
            Rollback(connection);
            throw;
        }

        return result;
    }

    public void Write(Action<SqliteConnection> body) => Write(connection =>
    {
        body(connection);
        return 0;
    });

    public T Read<T>(Func<SqliteConnection, T> body)
    {
        using var connection = Open();
        return body(connection);
    }

    private static void Rollback(SqliteConnection connection)
    {
        if (connection.State != System.Data.ConnectionState.Open)
        {
            return;
        }

        try
        {
            Execute(connection, "ROLLBACK");
        }
        catch (SqliteException)
        {
            // SQLite already rolled back (e.g. after SQLITE_FULL); the connection returns to the pool clean.
        }
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}

/// <summary>Small helpers so statements read as SQL with named parameters.</summary>
internal static class SqliteCommandExtensions
{
    public static SqliteCommand Command(this SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }

    public static int Execute(this SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = connection.Command(sql, parameters);
        return command.ExecuteNonQuery();
    }

    public static object? Scalar(this SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = connection.Command(sql, parameters);
        var value = command.ExecuteScalar();
        return value is DBNull ? null : value;
    }

    public static long Count(this SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters) =>
        Convert.ToInt64(connection.Scalar(sql, parameters) ?? 0L, CultureInfo.InvariantCulture);

    public static List<T> List<T>(this SqliteConnection connection, string sql, Func<SqliteDataReader, T> map, params (string Name, object? Value)[] parameters)
    {
        using var command = connection.Command(sql, parameters);
        using var reader = command.ExecuteReader();
        var items = new List<T>();
        while (reader.Read())
        {
            items.Add(map(reader));
        }

        return items;
    }

    public static string? StringOrNull(this SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    public static long? Int64OrNull(this SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetInt64(ordinal);

    /// <summary>Job ids are the decimal form of the row id; anything else names no job.</summary>
    public static bool TryParseJobId(string? jobId, out long id) =>
        long.TryParse(jobId, NumberStyles.None, CultureInfo.InvariantCulture, out id) && id > 0;
}
