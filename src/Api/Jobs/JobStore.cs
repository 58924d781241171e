// Over 300 lines: every statement on the job tables lives here, so the job schema has one reader and one writer.
using System.Globalization;
using System.Text.Json;
using GpuLxc.Api.Events;
using GpuLxc.Api.Infrastructure;
using Microsoft.Data.Sqlite;

namespace GpuLxc.Api.Jobs;

/// <summary>
/// GpuLxc's own job records in <see cref="GpuLxcDatabase"/> (<c>job</c>, <c>job_log</c>): what the job API shows.
/// Hangfire only carries the job id to a worker; states, steps and logs live here, and outlive Hangfire's retention.
/// Every change of a job's state is made here, so this is where <see cref="EventTypes.JobStateChanged"/> (and, for
/// re-syncs, <see cref="EventTypes.ResyncStarted"/> and <see cref="EventTypes.ResyncFinished"/>) are published: once
/// per change that a statement actually made.
/// </summary>
public sealed class JobStore(GpuLxcDatabase database, JobSignals signals, TimeProvider time, IEventPublisher events)
{
    private const string Columns = "id, kind, target, state, parameters, requested_by, created_at, started_at, finished_at, steps, cancel_requested, error, result, log_count";

    private static readonly JsonSerializerOptions Json = CreateJsonOptions();

    /// <summary>
    /// Inserts a queued job unless a job its kind excludes (<see cref="JobKinds.Excludes"/>) is queued or running;
    /// the check and the insert are one <c>BEGIN IMMEDIATE</c> transaction, so two concurrent requests cannot both
    /// pass. Returns the conflicting job instead.
    /// </summary>
    public async Task<Job?> CreateAsync(Job job, CancellationToken cancellationToken)
    {
        var excludes = job.Kind.Excludes();
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await using (var check = connection.CreateCommand())
        {
            var active = InList(check, "$active", [JobState.Queued, JobState.Running]);
            var anywhere = InList(check, "$anywhere", excludes.Anywhere);
            var sameTarget = InList(check, "$sameTarget", excludes.SameTarget);
            check.CommandText = $"""
                SELECT {Columns} FROM job
                WHERE state IN ({active}) AND (kind IN ({anywhere}) OR (kind IN ({sameTarget}) AND target = $target))
                ORDER BY created_at LIMIT 1
                """;
            check.Parameters.AddWithValue("$target", job.Target);
            await using var reader = await check.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                return Read(reader);
            }
        }

        await using (var insert = connection.CreateCommand())
        {
            insert.CommandText = $"INSERT INTO job ({Columns}) VALUES ($id, $kind, $target, $state, $parameters, $requestedBy, $createdAt, NULL, NULL, $steps, 0, NULL, NULL, 0)";
            insert.Parameters.AddWithValue("$id", job.Id);
            insert.Parameters.AddWithValue("$kind", EnumNames.Of(job.Kind));
            insert.Parameters.AddWithValue("$target", job.Target);
            insert.Parameters.AddWithValue("$state", EnumNames.Of(JobState.Queued));
            insert.Parameters.AddWithValue("$parameters", job.StoredParameters);
            insert.Parameters.AddWithValue("$requestedBy", (object?)job.RequestedBy ?? DBNull.Value);
            insert.Parameters.AddWithValue("$createdAt", job.CreatedAt.ToUnixTimeMilliseconds());
            insert.Parameters.AddWithValue("$steps", JsonSerializer.Serialize(job.Steps, Json));
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        Changed(new ChangedJob(job.Id, EnumNames.Of(job.Kind), job.Target, job.RequestedBy), JobState.Queued, null);
        return null;
    }

    /// <summary>How many jobs are in each state (states without jobs count zero).</summary>
    public async Task<IReadOnlyDictionary<JobState, int>> CountByStateAsync(CancellationToken cancellationToken)
    {
        var counts = Enum.GetValues<JobState>().ToDictionary(state => state, _ => 0);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT state, COUNT(*) FROM job GROUP BY state";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (EnumNames.Parse<JobState>(reader.GetString(0)) is { } state)
            {
                counts[state] = reader.GetInt32(1);
            }
        }

        return counts;
    }

    public async Task<Job?> FindAsync(string jobId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM job WHERE id = $id";
        command.Parameters.AddWithValue("$id", jobId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    /// <summary>Jobs newest first, filtered by whichever of state, kind and target is given.</summary>
    public async Task<IReadOnlyList<Job>> ListAsync(JobState? state, JobKind? kind, string? target, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT {Columns} FROM job
            WHERE ($state IS NULL OR state = $state) AND ($kind IS NULL OR kind = $kind) AND ($target IS NULL OR target = $target)
            ORDER BY created_at DESC, id DESC LIMIT $limit
            """;
        command.Parameters.AddWithValue("$state", state is { } s ? EnumNames.Of(s) : DBNull.Value);
        command.Parameters.AddWithValue("$kind", kind is { } k ? EnumNames.Of(k) : DBNull.Value);
        command.Parameters.AddWithValue("$target", (object?)target ?? DBNull.Value);
        command.Parameters.AddWithValue("$limit", limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var jobs = new List<Job>();
        while (await reader.ReadAsync(cancellationToken))
        {
            jobs.Add(Read(reader));
        }

        return jobs;
    }

    /// <summary>The last job of <paramref name="kind"/> that succeeded on <paramref name="target"/>.</summary>
    public async Task<Job?> LastSucceededAsync(JobKind kind, string target, CancellationToken cancellationToken) =>
        await ListAsync(JobState.Succeeded, kind, target, 1, cancellationToken) is [var last] ? last : null;

    /// <summary>queued → running, claimed by <paramref name="runner"/> (this process); false when the job is no longer queued.</summary>
    public async Task<bool> TryStartAsync(string jobId, string runner, CancellationToken cancellationToken)
    {
        var changed = await ChangeAsync(
            "UPDATE job SET state = 'running', started_at = $now, runner = $runner WHERE id = $id AND state = 'queued' AND cancel_requested = 0",
            cancellationToken, ("$id", jobId), ("$runner", runner), ("$now", Now()));
        signals.Notify(jobId);
        Changed(changed, JobState.Running, null);
        return changed is not null;
    }

    /// <summary>The process that claimed a running job (null when not running).</summary>
    public async Task<string?> RunnerOfAsync(string jobId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT runner FROM job WHERE id = $id AND state = 'running'";
        command.Parameters.AddWithValue("$id", jobId);
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    public async Task SaveStepsAsync(string jobId, IReadOnlyList<JobStep> steps, CancellationToken cancellationToken)
    {
        await ExecuteAsync("UPDATE job SET steps = $steps WHERE id = $id", cancellationToken, ("$id", jobId), ("$steps", JsonSerializer.Serialize(steps, Json)));
        signals.Notify(jobId);
    }

    /// <summary>Records the final state; a job that is already final keeps the state it has.</summary>
    public async Task<bool> FinishAsync(string jobId, JobState state, IReadOnlyList<JobStep>? steps, JobError? error, JobResult? result, CancellationToken cancellationToken)
    {
        var changed = await ChangeAsync(
            """
            UPDATE job SET state = $state, finished_at = $now, steps = COALESCE($steps, steps), error = $error, result = $result
            WHERE id = $id AND state IN ('queued', 'running')
            """,
            cancellationToken,
            ("$id", jobId), ("$state", EnumNames.Of(state)), ("$now", Now()),
            ("$steps", steps is null ? null : JsonSerializer.Serialize(steps, Json)),
            ("$error", error is null ? null : JsonSerializer.Serialize(error, Json)),
            ("$result", result is null ? null : JsonSerializer.Serialize(result, Json)));
        signals.Notify(jobId);
        Changed(changed, state, error);
        return changed is not null;
    }

    /// <summary>A queued job is cancelled at once; a running one is marked, for its runner to stop.</summary>
    public async Task<JobState?> RequestCancelAsync(string jobId, CancellationToken cancellationToken)
    {
        var error = JsonSerializer.Serialize(new JobError("cancelled", "Cancelled before it started."), Json);
        var cancelled = await ChangeAsync(
            "UPDATE job SET state = 'cancelled', finished_at = $now, cancel_requested = 1, error = $error WHERE id = $id AND state = 'queued'",
            cancellationToken, ("$id", jobId), ("$now", Now()), ("$error", error));
        Changed(cancelled, JobState.Cancelled, null);
        if (cancelled is null)
        {
            await ExecuteAsync("UPDATE job SET cancel_requested = 1 WHERE id = $id AND state = 'running'", cancellationToken, ("$id", jobId));
        }

        signals.Notify(jobId);
        return (await FindAsync(jobId, cancellationToken))?.State;
    }

    /// <summary>
    /// Running jobs claimed by another process than <paramref name="runner"/>: their process ended (a restart, a
    /// crash) while they ran. They fail as <c>interrupted</c>, never to stay <c>running</c>.
    /// </summary>
    public async Task<IReadOnlyList<string>> InterruptOrphansAsync(string runner, string? jobId, CancellationToken cancellationToken)
    {
        var orphans = (await ListAsync(JobState.Running, null, null, 10_000, cancellationToken)).Where(j => jobId is null || j.Id == jobId).ToList();
        var interrupted = new List<string>();
        foreach (var job in orphans)
        {
            if (await RunnerOfAsync(job.Id, cancellationToken) is { } owner && owner != runner)
            {
                var steps = job.Steps.Select(s => s.State == JobStepState.Running
                    ? s with { State = JobStepState.Failed, FinishedAt = time.GetUtcNow(), Message = "Interrupted: the service stopped while this step ran." }
                    : s).ToList();
                var error = new JobError("interrupted",
                    "The service stopped while the job ran; it was not resumed.",
                    job.Steps.FirstOrDefault(s => s.State == JobStepState.Running)?.Name,
                    Fix: "Check the job's log, then start the job again: every step is idempotent.");
                if (await FinishAsync(job.Id, JobState.Failed, steps, error, null, cancellationToken))
                {
                    interrupted.Add(job.Id);
                }
            }
        }

        return interrupted;
    }

    public async Task AppendLogAsync(string jobId, IReadOnlyList<(DateTimeOffset At, string Stream, string Text)> lines, CancellationToken cancellationToken)
    {
        if (lines.Count == 0)
        {
            return;
        }

        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        long next;
        await using (var count = connection.CreateCommand())
        {
            count.CommandText = "SELECT log_count FROM job WHERE id = $id";
            count.Parameters.AddWithValue("$id", jobId);
            next = Convert.ToInt64(await count.ExecuteScalarAsync(cancellationToken) ?? 0L, CultureInfo.InvariantCulture);
        }

        await using (var insert = connection.CreateCommand())
        {
            insert.CommandText = "INSERT INTO job_log (job_id, line, at, stream, text) VALUES ($id, $line, $at, $stream, $text)";
            var line = insert.Parameters.Add("$line", SqliteType.Integer);
            var at = insert.Parameters.Add("$at", SqliteType.Integer);
            var stream = insert.Parameters.Add("$stream", SqliteType.Text);
            var text = insert.Parameters.Add("$text", SqliteType.Text);
            insert.Parameters.AddWithValue("$id", jobId);
            foreach (var entry in lines)
            {
                line.Value = ++next;
                at.Value = entry.At.ToUnixTimeMilliseconds();
                stream.Value = entry.Stream;
                text.Value = entry.Text;
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        await using (var update = connection.CreateCommand())
        {
            update.CommandText = "UPDATE job SET log_count = $count WHERE id = $id";
            update.Parameters.AddWithValue("$id", jobId);
            update.Parameters.AddWithValue("$count", next);
            await update.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        signals.Notify(jobId);
    }

    public async Task<IReadOnlyList<JobLogLine>> ReadLogAsync(string jobId, int after, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT line, at, stream, text FROM job_log WHERE job_id = $id AND line > $after ORDER BY line LIMIT $limit";
        command.Parameters.AddWithValue("$id", jobId);
        command.Parameters.AddWithValue("$after", after);
        command.Parameters.AddWithValue("$limit", limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var lines = new List<JobLogLine>();
        while (await reader.ReadAsync(cancellationToken))
        {
            lines.Add(new JobLogLine(reader.GetInt32(0), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)), reader.GetString(2), reader.GetString(3)));
        }

        return lines;
    }

    private long Now() => time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Runs an <c>UPDATE</c> of one job; the job it changed (null: none), read with <c>RETURNING</c> in the same statement.</summary>
    private async Task<ChangedJob?> ChangeAsync(string update, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = update + " RETURNING id, kind, target, requested_by";
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new ChangedJob(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3))
            : null;
    }

    private void Changed(ChangedJob? job, JobState state, JobError? error)
    {
        if (job is null)
        {
            return;
        }

        var stateName = EnumNames.Of(state);
        events.Publish(EventTypes.JobStateChanged, new { job.JobId, job.Kind, job.Target, State = stateName, Error = error?.Code });
        if (job.Kind == EnumNames.Of(JobKind.DriverResync))
        {
            if (state == JobState.Running)
            {
                events.Publish(EventTypes.ResyncStarted, new { job.JobId, Trigger = job.RequestedBy });
            }
            else if (state is JobState.Succeeded or JobState.Failed or JobState.Cancelled)
            {
                events.Publish(EventTypes.ResyncFinished, new { job.JobId, State = stateName, Error = error?.Code });
            }
        }
    }

    private sealed record ChangedJob(string JobId, string Kind, string Target, string? RequestedBy);

    private async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static Job Read(SqliteDataReader reader)
    {
        var steps = JsonSerializer.Deserialize<List<JobStep>>(reader.GetString(9), Json) ?? [];
        var done = steps.Count(s => s.State is JobStepState.Succeeded or JobStepState.Skipped);
        var state = Stored<JobState>(reader.GetString(3));
        var parameters = reader.GetString(4);
        return new Job(
            reader.GetString(0),
            Stored<JobKind>(reader.GetString(1)),
            reader.GetString(2),
            state,
            JobParameters.View(parameters),
            reader.IsDBNull(5) ? null : reader.GetString(5),
            DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6)),
            reader.IsDBNull(7) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(7)),
            reader.IsDBNull(8) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(8)),
            steps,
            state == JobState.Succeeded || steps.Count == 0 ? (state == JobState.Succeeded ? 100 : 0) : done * 100 / steps.Count,
            reader.GetInt64(10) != 0,
            reader.IsDBNull(11) ? null : JsonSerializer.Deserialize<JobError>(reader.GetString(11), Json),
            reader.IsDBNull(12) ? null : JsonSerializer.Deserialize<JobResult>(reader.GetString(12), Json),
            reader.GetInt32(13))
        {
            StoredParameters = parameters,
        };
    }

    private static T Stored<T>(string name)
        where T : struct, Enum =>
        EnumNames.Parse<T>(name) ?? throw new InvalidDataException($"The job table holds '{name}', which is no {typeof(T).Name}.");

    /// <summary>One parameter per value (<c>$prefix0, $prefix1, …</c>), named by <see cref="EnumNames"/>; the list for an <c>IN (…)</c>.</summary>
    private static string InList<T>(SqliteCommand command, string prefix, IReadOnlyList<T> values)
        where T : struct, Enum
    {
        for (var i = 0; i < values.Count; i++)
        {
            command.Parameters.AddWithValue($"{prefix}{i}", EnumNames.Of(values[i]));
        }

        return string.Join(", ", values.Select((_, i) => $"{prefix}{i}"));
    }

    private static JsonSerializerOptions CreateJsonOptions()
    {
        var options = new JsonSerializerOptions();
        ApiJson.Configure(options);
        return options;
    }
}
