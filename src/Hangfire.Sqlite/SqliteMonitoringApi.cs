// Over 300 lines: Hangfire's monitoring API is one interface of many small queries (counts, pages of jobs per state, graphs), and each maps rows to its own DTO.
using System.Globalization;
using Hangfire.Common;
using Hangfire.States;
using Hangfire.Storage;
using Hangfire.Storage.Monitoring;
using Microsoft.Data.Sqlite;

namespace GpuLxc.Hangfire.Sqlite;

/// <summary>What the dashboard reads: statistics, queues, servers, jobs by state, per-day and per-hour counts.</summary>
internal sealed class SqliteMonitoringApi(SqliteStorage storage) : JobStorageMonitor
{
    private readonly SqliteDatabase _database = storage.Database;

    public override IList<QueueWithTopEnqueuedJobsDto> Queues() => _database.Read(connection =>
    {
        var queues = connection.List(
            """
            SELECT Queue, SUM(FetchedAt IS NULL), SUM(FetchedAt IS NOT NULL) FROM JobQueue GROUP BY Queue ORDER BY Queue
            """,
            reader => (Name: reader.GetString(0), Length: reader.GetInt64(1), Fetched: reader.GetInt64(2)));
        return (IList<QueueWithTopEnqueuedJobsDto>)queues.Select(q => new QueueWithTopEnqueuedJobsDto
        {
            Name = q.Name,
            Length = q.Length,
            Fetched = q.Fetched,
            FirstJobs = Enqueued(connection, q.Name, 0, 5),
        }).ToList();
    });

    public override IList<ServerDto> Servers() => _database.Read(connection => (IList<ServerDto>)connection.List(
        "SELECT Id, Data, LastHeartbeat FROM Server ORDER BY Id",
        reader =>
        {
            var data = System.Text.Json.JsonSerializer.Deserialize<ServerData>(reader.GetString(1));
            return new ServerDto
            {
                Name = reader.GetString(0),
                WorkersCount = data?.WorkerCount ?? 0,
                Queues = data?.Queues ?? [],
                StartedAt = data?.StartedAt ?? DateTime.MinValue,
                Heartbeat = Timestamps.ToDateTime(reader.GetInt64(2)),
            };
        }));

    public override JobDetailsDto? JobDetails(string jobId)
    {
        ArgumentNullException.ThrowIfNull(jobId);
        if (!SqliteCommandExtensions.TryParseJobId(jobId, out var id))
        {
            return null;
        }

        return _database.Read(connection =>
        {
            var row = connection.List(
                "SELECT InvocationData, Arguments, CreatedAt, ExpireAt FROM Job WHERE Id = $id",
                reader => (Data: reader.GetString(0), Arguments: reader.GetString(1), CreatedAt: reader.GetInt64(2), ExpireAt: reader.Int64OrNull(3)),
                ("$id", id)).SingleOrDefault();
            if (row.Data is null)
            {
                return null;
            }

            var loaded = StoredJob.Load(row.Data, row.Arguments);
            return new JobDetailsDto
            {
                Job = loaded.Job,
                InvocationData = loaded.InvocationData,
                LoadException = loaded.LoadException,
                CreatedAt = Timestamps.ToDateTime(row.CreatedAt),
                ExpireAt = Timestamps.ToDateTime(row.ExpireAt),
                Properties = connection.List(
                    "SELECT Name, Value FROM JobParameter WHERE JobId = $id ORDER BY Name",
                    reader => (Name: reader.GetString(0), Value: reader.StringOrNull(1)), ("$id", id))
                    .ToDictionary(p => p.Name, p => p.Value!, StringComparer.Ordinal),
                History = connection.List(
                    "SELECT Name, Reason, CreatedAt, Data FROM State WHERE JobId = $id ORDER BY Id DESC",
                    reader => new StateHistoryDto
                    {
                        StateName = reader.GetString(0),
                        Reason = reader.StringOrNull(1),
                        CreatedAt = Timestamps.ToDateTime(reader.GetInt64(2)),
                        Data = StateDataJson.Read(reader.StringOrNull(3)),
                    },
                    ("$id", id)),
            };
        });
    }

    public override StatisticsDto GetStatistics() => _database.Read(connection =>
    {
        var byState = connection.List(
            "SELECT StateName, COUNT(*) FROM Job WHERE StateName IN ('Enqueued', 'Failed', 'Processing', 'Scheduled', 'Awaiting') GROUP BY StateName",
            reader => (State: reader.GetString(0), Count: reader.GetInt64(1))).ToDictionary(s => s.State, s => s.Count, StringComparer.Ordinal);
        long State(string name) => byState.GetValueOrDefault(name);
        return new StatisticsDto
        {
            Enqueued = State(EnqueuedState.StateName),
            Failed = State(FailedState.StateName),
            Processing = State(ProcessingState.StateName),
            Scheduled = State(ScheduledState.StateName),
            Awaiting = State(AwaitingState.StateName),
            Servers = connection.Count("SELECT COUNT(*) FROM Server"),
            Queues = connection.Count("SELECT COUNT(DISTINCT Queue) FROM JobQueue"),
            Succeeded = Counter(connection, "stats:succeeded"),
            Deleted = Counter(connection, "stats:deleted"),
            Recurring = connection.Count("SELECT COUNT(*) FROM \"Set\" WHERE \"Key\" = 'recurring-jobs'"),
            Retries = connection.Count("SELECT COUNT(*) FROM \"Set\" WHERE \"Key\" = 'retries'"),
        };
    });

    public override JobList<EnqueuedJobDto> EnqueuedJobs(string queue, int from, int perPage)
    {
        ArgumentNullException.ThrowIfNull(queue);
        return _database.Read(connection => Enqueued(connection, queue, from, perPage));
    }

    public override JobList<FetchedJobDto> FetchedJobs(string queue, int from, int perPage)
    {
        ArgumentNullException.ThrowIfNull(queue);
        return _database.Read(connection => Page(
            connection,
            """
            SELECT j.Id, j.InvocationData, j.Arguments, j.StateName, s.Reason, s.Data, s.CreatedAt, q.FetchedAt
            FROM JobQueue q JOIN Job j ON j.Id = q.JobId LEFT JOIN State s ON s.Id = j.StateId
            WHERE q.Queue = $queue AND q.FetchedAt IS NOT NULL ORDER BY q.Id LIMIT $count OFFSET $from
            """,
            row => new FetchedJobDto
            {
                Job = row.Job.Job,
                InvocationData = row.Job.InvocationData,
                LoadException = row.Job.LoadException,
                State = row.StateName,
                FetchedAt = Timestamps.ToDateTime(row.Extra),
            },
            from, perPage, ("$queue", queue)));
    }

    public override JobList<ProcessingJobDto> ProcessingJobs(int from, int count) => InState(ProcessingState.StateName, from, count, row => new ProcessingJobDto
    {
        Job = row.Job.Job,
        InvocationData = row.Job.InvocationData,
        LoadException = row.Job.LoadException,
        InProcessingState = row.InState(ProcessingState.StateName),
        ServerId = row.Data.GetValueOrDefault("ServerId") ?? row.Data.GetValueOrDefault("ServerName"),
        StartedAt = JobHelper.DeserializeNullableDateTime(row.Data.GetValueOrDefault("StartedAt")),
        StateData = row.Data,
    });

    public override JobList<ScheduledJobDto> ScheduledJobs(int from, int count) => InState(ScheduledState.StateName, from, count, row => new ScheduledJobDto
    {
        Job = row.Job.Job,
        InvocationData = row.Job.InvocationData,
        LoadException = row.Job.LoadException,
        InScheduledState = row.InState(ScheduledState.StateName),
        EnqueueAt = JobHelper.DeserializeNullableDateTime(row.Data.GetValueOrDefault("EnqueueAt")) ?? default,
        ScheduledAt = JobHelper.DeserializeNullableDateTime(row.Data.GetValueOrDefault("ScheduledAt")),
        StateData = row.Data,
    });

    public override JobList<SucceededJobDto> SucceededJobs(int from, int count) => InState(SucceededState.StateName, from, count, row => new SucceededJobDto
    {
        Job = row.Job.Job,
        InvocationData = row.Job.InvocationData,
        LoadException = row.Job.LoadException,
        InSucceededState = row.InState(SucceededState.StateName),
        Result = row.Data.GetValueOrDefault("Result"),
        TotalDuration = Milliseconds(row.Data, "PerformanceDuration") is { } duration && Milliseconds(row.Data, "Latency") is { } latency
            ? duration + latency
            : null,
        SucceededAt = JobHelper.DeserializeNullableDateTime(row.Data.GetValueOrDefault("SucceededAt")),
        StateData = row.Data,
    });

    public override JobList<FailedJobDto> FailedJobs(int from, int count) => InState(FailedState.StateName, from, count, row => new FailedJobDto
    {
        Job = row.Job.Job,
        InvocationData = row.Job.InvocationData,
        LoadException = row.Job.LoadException,
        InFailedState = row.InState(FailedState.StateName),
        Reason = row.Reason,
        ExceptionType = row.Data.GetValueOrDefault("ExceptionType"),
        ExceptionMessage = row.Data.GetValueOrDefault("ExceptionMessage"),
        ExceptionDetails = row.Data.GetValueOrDefault("ExceptionDetails"),
        FailedAt = JobHelper.DeserializeNullableDateTime(row.Data.GetValueOrDefault("FailedAt")),
        StateData = row.Data,
    });

    public override JobList<DeletedJobDto> DeletedJobs(int from, int count) => InState(DeletedState.StateName, from, count, row => new DeletedJobDto
    {
        Job = row.Job.Job,
        InvocationData = row.Job.InvocationData,
        LoadException = row.Job.LoadException,
        InDeletedState = row.InState(DeletedState.StateName),
        DeletedAt = JobHelper.DeserializeNullableDateTime(row.Data.GetValueOrDefault("DeletedAt")),
        StateData = row.Data,
    });

    public override JobList<AwaitingJobDto> AwaitingJobs(int from, int count) => _database.Read(connection =>
    {
        var page = InState(connection, AwaitingState.StateName, from, count, row => (Row: row, ParentId: row.Data.GetValueOrDefault("ParentId")));
        return new JobList<AwaitingJobDto>(page.Select(item => new KeyValuePair<string, AwaitingJobDto>(item.Key, new AwaitingJobDto
        {
            Job = item.Value.Row.Job.Job,
            InvocationData = item.Value.Row.Job.InvocationData,
            LoadException = item.Value.Row.Job.LoadException,
            InAwaitingState = item.Value.Row.InState(AwaitingState.StateName),
            AwaitingAt = item.Value.Row.StateCreatedAt,
            StateData = item.Value.Row.Data,
            ParentStateName = SqliteCommandExtensions.TryParseJobId(item.Value.ParentId, out var parent)
                ? (string?)connection.Scalar("SELECT StateName FROM Job WHERE Id = $id", ("$id", parent))
                : null,
        })));
    });

    public override long ScheduledCount() => CountInState(ScheduledState.StateName);

    public override long EnqueuedCount(string queue) => QueueCount(queue, fetched: false);

    public override long FetchedCount(string queue) => QueueCount(queue, fetched: true);

    public override long FailedCount() => CountInState(FailedState.StateName);

    public override long ProcessingCount() => CountInState(ProcessingState.StateName);

    public override long SucceededListCount() => CountInState(SucceededState.StateName);

    public override long DeletedListCount() => CountInState(DeletedState.StateName);

    public override long AwaitingCount() => CountInState(AwaitingState.StateName);

    public override IDictionary<DateTime, long> SucceededByDatesCount() => ByDay("succeeded");

    public override IDictionary<DateTime, long> FailedByDatesCount() => ByDay("failed");

    public override IDictionary<DateTime, long> DeletedByDatesCount() => ByDay("deleted");

    public override IDictionary<DateTime, long> HourlySucceededJobs() => ByHour("succeeded");

    public override IDictionary<DateTime, long> HourlyFailedJobs() => ByHour("failed");

    public override IDictionary<DateTime, long> HourlyDeletedJobs() => ByHour("deleted");

    private static long Counter(SqliteConnection connection, string key) =>
        connection.Count("SELECT COALESCE(SUM(Value), 0) FROM Counter WHERE \"Key\" = $key", ("$key", key));

    private static long? Milliseconds(Dictionary<string, string> data, string name) =>
        data.TryGetValue(name, out var text) && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;

    private static JobList<EnqueuedJobDto> Enqueued(SqliteConnection connection, string queue, int from, int perPage) => Page(
        connection,
        """
        SELECT j.Id, j.InvocationData, j.Arguments, j.StateName, s.Reason, s.Data, s.CreatedAt, NULL
        FROM JobQueue q JOIN Job j ON j.Id = q.JobId LEFT JOIN State s ON s.Id = j.StateId
        WHERE q.Queue = $queue AND q.FetchedAt IS NULL ORDER BY q.Id LIMIT $count OFFSET $from
        """,
        row => new EnqueuedJobDto
        {
            Job = row.Job.Job,
            InvocationData = row.Job.InvocationData,
            LoadException = row.Job.LoadException,
            State = row.StateName,
            InEnqueuedState = row.InState(EnqueuedState.StateName),
            EnqueuedAt = row.InState(EnqueuedState.StateName) ? JobHelper.DeserializeNullableDateTime(row.Data.GetValueOrDefault("EnqueuedAt")) : null,
            StateData = row.Data,
        },
        from, perPage, ("$queue", queue));

    private JobList<T> InState<T>(string state, int from, int count, Func<JobRow, T> map) =>
        _database.Read(connection => InState(connection, state, from, count, map));

    /// <summary>Jobs in a state, newest first, as the dashboard lists them.</summary>
    private static JobList<T> InState<T>(SqliteConnection connection, string state, int from, int count, Func<JobRow, T> map) => Page(
        connection,
        """
        SELECT j.Id, j.InvocationData, j.Arguments, j.StateName, s.Reason, s.Data, s.CreatedAt, NULL
        FROM Job j LEFT JOIN State s ON s.Id = j.StateId
        WHERE j.StateName = $state ORDER BY j.Id DESC LIMIT $count OFFSET $from
        """,
        map, from, count, ("$state", state));

    private static JobList<T> Page<T>(SqliteConnection connection, string sql, Func<JobRow, T> map, int from, int count, params (string, object?)[] parameters)
    {
        var all = parameters.Append(("$count", Math.Max(count, 0))).Append(("$from", Math.Max(from, 0))).ToArray();
        var rows = connection.List(sql, JobRow.Read, all);
        return new JobList<T>(rows.Select(row => new KeyValuePair<string, T>(row.Id.ToString(CultureInfo.InvariantCulture), map(row))));
    }

    private long CountInState(string state) =>
        _database.Read(connection => connection.Count("SELECT COUNT(*) FROM Job WHERE StateName = $state", ("$state", state)));

    private long QueueCount(string queue, bool fetched)
    {
        ArgumentNullException.ThrowIfNull(queue);
        return _database.Read(connection => connection.Count(
            fetched
                ? "SELECT COUNT(*) FROM JobQueue WHERE Queue = $queue AND FetchedAt IS NOT NULL"
                : "SELECT COUNT(*) FROM JobQueue WHERE Queue = $queue AND FetchedAt IS NULL",
            ("$queue", queue)));
    }

    /// <summary>The last seven days (today included), from Hangfire's <c>stats:&lt;type&gt;:yyyy-MM-dd</c> counters.</summary>
    private Dictionary<DateTime, long> ByDay(string type)
    {
        var today = storage.Options.TimeProvider.GetUtcNow().UtcDateTime.Date;
        var days = Enumerable.Range(0, 7).Select(i => today.AddDays(-i)).ToList();
        return Counters(days, day => string.Create(CultureInfo.InvariantCulture, $"stats:{type}:{day:yyyy-MM-dd}"));
    }

    /// <summary>The last 24 hours, from Hangfire's <c>stats:&lt;type&gt;:yyyy-MM-dd-HH</c> counters.</summary>
    private Dictionary<DateTime, long> ByHour(string type)
    {
        var now = storage.Options.TimeProvider.GetUtcNow().UtcDateTime;
        var hour = new DateTime(now.Year, now.Month, now.Day, now.Hour, 0, 0, DateTimeKind.Utc);
        var hours = Enumerable.Range(0, 24).Select(i => hour.AddHours(-i)).ToList();
        return Counters(hours, h => string.Create(CultureInfo.InvariantCulture, $"stats:{type}:{h:yyyy-MM-dd-HH}"));
    }

    private Dictionary<DateTime, long> Counters(List<DateTime> points, Func<DateTime, string> key)
    {
        var keys = points.Select(key).ToList();
        var values = _database.Read(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT \"Key\", Value FROM Counter WHERE \"Key\" IN ({InList.Parameters(command, "$k", keys)})";
            using var reader = command.ExecuteReader();
            var found = new Dictionary<string, long>(StringComparer.Ordinal);
            while (reader.Read())
            {
                found[reader.GetString(0)] = reader.GetInt64(1);
            }

            return found;
        });
        return points.ToDictionary(point => point, point => values.GetValueOrDefault(key(point)));
    }

    /// <summary>One job of a listing with its current state.</summary>
    private sealed record JobRow(long Id, StoredJob Job, string? StateName, string? Reason, Dictionary<string, string> Data, DateTime? StateCreatedAt, long? Extra)
    {
        public bool InState(string state) => string.Equals(StateName, state, StringComparison.OrdinalIgnoreCase);

        public static JobRow Read(SqliteDataReader reader) => new(
            reader.GetInt64(0),
            StoredJob.Load(reader.GetString(1), reader.GetString(2)),
            reader.StringOrNull(3),
            reader.StringOrNull(4),
            StateDataJson.Read(reader.StringOrNull(5)),
            Timestamps.ToDateTime(reader.Int64OrNull(6)),
            reader.Int64OrNull(7));
    }
}
