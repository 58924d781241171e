using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Infrastructure;

namespace GpuLxc.Api.Jobs;

/// <summary>
/// What a running job's work sees: its record, its steps, its log, and the host commands it runs — each logged as
/// its argv, its output streamed into the log, and killed with its process tree when the job is cancelled.
/// </summary>
public sealed class JobContext : IAsyncDisposable
{
    /// <summary>Longer lines are cut; a command printing a binary blob must not fill the database.</summary>
    public const int MaxLineLength = 4000;

    /// <summary>A job's log keeps its first lines up to this many, then says it was cut.</summary>
    public const int MaxLogLines = 100_000;

    private const int StderrTailLines = 20;
    private static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(200);

    private readonly JobStore _store;
    private readonly TimeProvider _time;
    private readonly List<JobStep> _steps;
    private readonly Lock _gate = new();
    private readonly List<(DateTimeOffset At, string Stream, string Text)> _pending = [];
    private readonly CancellationTokenSource _stopFlushing = new();
    private readonly Task _flushing;
    private int _logged;

    public JobContext(Job job, JobStore store, TimeProvider time, CancellationToken cancellation)
    {
        Job = job;
        _store = store;
        _time = time;
        _steps = [.. job.Steps];
        Cancellation = cancellation;
        _logged = job.LogLines;
        _flushing = FlushPeriodicallyAsync();
    }

    public Job Job { get; }

    public string Target => Job.Target;

    /// <summary>Cancelled when the job is cancelled or the service stops.</summary>
    public CancellationToken Cancellation { get; }

    public IReadOnlyList<JobStep> Steps
    {
        get
        {
            lock (_gate)
            {
                return [.. _steps];
            }
        }
    }

    /// <summary>Adds a step at the end (a re-sync learns which containers need one as it runs).</summary>
    public async Task AddStepAsync(string name, string title)
    {
        lock (_gate)
        {
            _steps.Add(new JobStep(name, title, JobStepState.Pending, null, null, null));
        }

        await _store.SaveStepsAsync(Job.Id, Steps, CancellationToken.None);
    }

    /// <summary>
    /// Runs one step: running, then succeeded (or skipped, when the body says so). A failure marks it failed (or
    /// cancelled) with the reason, and ends the job. A <see cref="ProblemException"/> — a precondition the request
    /// passed that no longer holds now the job runs — fails it <c>preconditionFailed</c> with the problem's message
    /// and fix; a program that is not installed, <c>commandNotFound</c>.
    /// </summary>
    public async Task<T> StepAsync<T>(string name, Func<JobStepScope, Task<T>> body)
    {
        var scope = new JobStepScope();
        await UpdateStepAsync(name, s => s with { State = JobStepState.Running, StartedAt = _time.GetUtcNow(), Message = null });
        await LogAsync($"step {name}: started");
        try
        {
            var value = await AsJobFailureAsync(body, scope);
            var state = scope.SkippedBecause is null ? JobStepState.Succeeded : JobStepState.Skipped;
            await UpdateStepAsync(name, s => s with { State = state, FinishedAt = _time.GetUtcNow(), Message = scope.SkippedBecause ?? scope.Message });
            var said = scope.SkippedBecause ?? scope.Message;
            await LogAsync($"step {name}: {EnumNames.Of(state)}{(said is null ? "" : $": {said}")}");
            return value;
        }
        catch (OperationCanceledException) when (Cancellation.IsCancellationRequested)
        {
            await UpdateStepAsync(name, s => s with { State = JobStepState.Cancelled, FinishedAt = _time.GetUtcNow(), Message = "Cancelled; the running command's process tree was killed." });
            await LogAsync($"step {name}: cancelled");
            throw;
        }
        catch (JobFailedException e)
        {
            e.Error = e.Error with { Step = e.Error.Step ?? name };
            await UpdateStepAsync(name, s => s with { State = JobStepState.Failed, FinishedAt = _time.GetUtcNow(), Message = e.Error.Message });
            await LogAsync($"step {name}: failed: {e.Error.Message}");
            throw;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await UpdateStepAsync(name, s => s with { State = JobStepState.Failed, FinishedAt = _time.GetUtcNow(), Message = e.Message });
            await LogAsync($"step {name}: failed: {e.Message}");
            throw new JobFailedException(new JobError("internalError", e.Message, name), e);
        }
    }

    /// <summary>Runs the body; the failures that have a job error of their own become it.</summary>
    private static async Task<T> AsJobFailureAsync<T>(Func<JobStepScope, Task<T>> body, JobStepScope scope)
    {
        try
        {
            return await body(scope);
        }
        catch (ProblemException e)
        {
            throw new JobFailedException(new JobError("preconditionFailed", $"{e.Title} {e.Message}", Fix: e.Fix), e);
        }
        catch (HostCommandNotFoundException e)
        {
            throw new JobFailedException(new JobError("commandNotFound", e.Message), e);
        }
    }

    public Task StepAsync(string name, Func<JobStepScope, Task> body) =>
        StepAsync(name, async scope =>
        {
            await body(scope);
            return true;
        });

    /// <summary>A line of the job's own (stream <c>job</c>).</summary>
    public Task LogAsync(string text)
    {
        Append("job", text);
        return Task.CompletedTask;
    }

    /// <summary>Runs a host command and returns its result whatever its exit code; logs the argv and streams the output.</summary>
    /// <exception cref="JobFailedException">The program is not installed, or the command ran past its timeout.</exception>
    public async Task<HostCommandResult> RunAsync(IHostCommandRunner runner, HostCommand command)
    {
        Append("job", $"$ {command}");
        try
        {
            var result = await runner.RunAsync(command with
            {
                OnOutput = (line, _) =>
                {
                    Append(line.Stream == HostOutputChannel.StandardOutput ? "stdout" : "stderr", line.Text);
                    return Task.CompletedTask;
                },
            }, Cancellation);
            Append("job", $"exit code {result.ExitCode} after {result.Duration.TotalSeconds:0.0} s");
            return result;
        }
        catch (HostCommandNotFoundException e)
        {
            throw new JobFailedException(new JobError("commandNotFound", e.Message, Command: command.ToString(),
                Fix: $"Install the package that provides '{e.Program}' on the host."));
        }
        catch (HostCommandTimeoutException e)
        {
            throw new JobFailedException(new JobError("commandTimedOut", e.Message, Command: command.ToString()));
        }
    }

    /// <summary>As <see cref="RunAsync"/>, and a non-zero exit fails the step with the exit code and the tail of stderr.</summary>
    public async Task<HostCommandResult> RunCheckedAsync(IHostCommandRunner runner, HostCommand command, string? fix = null)
    {
        var result = await RunAsync(runner, command);
        if (!result.Succeeded)
        {
            throw new JobFailedException(CommandFailed(command, result, fix));
        }

        return result;
    }

    public static JobError CommandFailed(HostCommand command, HostCommandResult result, string? fix = null, string? message = null) => new(
        "commandFailed",
        message ?? $"'{command}' exited with {result.ExitCode}{(LastLine(result) is { } last ? $": {last}" : ".")}",
        Command: command.ToString(),
        ExitCode: result.ExitCode,
        StderrTail: Tail(result.StandardError),
        Fix: fix);

    /// <summary>Writes buffered log lines now.</summary>
    public async Task FlushAsync()
    {
        List<(DateTimeOffset, string, string)> lines;
        lock (_gate)
        {
            if (_pending.Count == 0)
            {
                return;
            }

            lines = [.. _pending];
            _pending.Clear();
        }

        await _store.AppendLogAsync(Job.Id, lines, CancellationToken.None);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopFlushing.CancelAsync();
        await _flushing;
        await FlushAsync();
        _stopFlushing.Dispose();
    }

    private static string? Tail(string text)
    {
        var lines = text.TrimEnd().Split('\n');
        var tail = string.Join('\n', lines.TakeLast(StderrTailLines)).Trim();
        return tail.Length == 0 ? null : tail[Math.Max(0, tail.Length - (MaxLineLength * 2))..];
    }

    private static string? LastLine(HostCommandResult result)
    {
        var text = (result.StandardError.Trim().Length > 0 ? result.StandardError : result.StandardOutput).TrimEnd();
        var last = text.Split('\n')[^1].Trim();
        return last.Length == 0 ? null : last.Length > 300 ? last[..300] + "…" : last;
    }

    private void Append(string stream, string text)
    {
        lock (_gate)
        {
            if (_logged >= MaxLogLines)
            {
                return;
            }

            _logged++;
            var line = _logged == MaxLogLines ? $"(the log is cut here: a job keeps at most {MaxLogLines} lines)" : text;
            _pending.Add((_time.GetUtcNow(), _logged == MaxLogLines ? "job" : stream, line.Length > MaxLineLength ? line[..MaxLineLength] + "…" : line));
        }
    }

    private async Task UpdateStepAsync(string name, Func<JobStep, JobStep> change)
    {
        lock (_gate)
        {
            var index = _steps.FindIndex(s => s.Name == name);
            if (index < 0)
            {
                _steps.Add(change(new JobStep(name, name, JobStepState.Pending, null, null, null)));
            }
            else
            {
                _steps[index] = change(_steps[index]);
            }
        }

        await FlushAsync();
        await _store.SaveStepsAsync(Job.Id, Steps, CancellationToken.None);
    }

    private async Task FlushPeriodicallyAsync()
    {
        try
        {
            while (!_stopFlushing.IsCancellationRequested)
            {
                await Task.Delay(FlushInterval, _time, _stopFlushing.Token);
                await FlushAsync();
            }
        }
        catch (OperationCanceledException)
        {
            // The job ended; DisposeAsync writes what is left.
        }
    }
}

/// <summary>What a step reports: a message, or that there was nothing to do.</summary>
public sealed class JobStepScope
{
    public string? Message { get; set; }

    public string? SkippedBecause { get; private set; }

    public void Skip(string because) => SkippedBecause = because;
}

/// <summary>Ends a job as failed with <see cref="Error"/> (and what it found, in <see cref="Result"/>).</summary>
public sealed class JobFailedException(JobError error, Exception? inner = null) : Exception(error.Message, inner)
{
    public JobError Error { get; set; } = error;

    public JobResult? Result { get; init; }
}
