using GpuLxc.Client;
using Spectre.Console;

namespace GpuLxc.Cli;

/// <summary>
/// Follows a job to its end: a live progress bar with the running step, the job's log printed above it as it
/// grows, each step's outcome as it ends. Ctrl-C stops following and asks whether to cancel the job too.
/// </summary>
public static class JobFollower
{
    /// <summary>How long one long-poll of the job waits for it to end before the bar and the log are refreshed.</summary>
    private const int PollSeconds = 1;

    /// <summary>Follows <paramref name="jobId"/>; the exit code: 0 succeeded, 1 failed or cancelled, 130 interrupted.</summary>
    public static async Task<int> FollowAsync(CommandContext context, string jobId)
    {
        if (context.Json)
        {
            var final = await WaitAsync(context.Client, jobId, context.CancellationToken);
            context.WriteJson(final);
            return ExitCode(final);
        }

        using var interrupt = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        ConsoleCancelEventHandler onCtrlC = (_, e) =>
        {
            e.Cancel = true;
            interrupt.Cancel();
        };
        Console.CancelKeyPress += onCtrlC;
        Job? job = null;
        try
        {
            job = await context.Out.Progress().AutoClear(false).HideCompleted(false)
                .Columns(new SpinnerColumn(), new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn { Width = 30 },
                    new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async progress =>
                {
                    var bar = progress.AddTask(Markup.Escape(jobId), maxValue: 100);
                    var seen = new Dictionary<string, JobStepState>();
                    var logNext = 0;
                    while (true)
                    {
                        var current = await context.Client.GetJobAsync(jobId, PollSeconds, interrupt.Token);
                        var log = await context.Client.GetJobLogAsync(jobId, logNext, null, interrupt.Token);
                        foreach (var line in log.Lines)
                        {
                            context.Out.MarkupLineInterpolated($"[grey]{OneRow(line.Text, context.Out.Profile.Width)}[/]");
                        }

                        logNext = log.Next;
                        ReportSteps(context.Out, current, seen);
                        bar.Value = current.Progress;
                        bar.Description = Markup.Escape(Describe(current));
                        if (current.IsFinished)
                        {
                            bar.StopTask();
                            return current;
                        }
                    }
                });
        }
        catch (OperationCanceledException) when (interrupt.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            return await InterruptedAsync(context, jobId);
        }
        finally
        {
            Console.CancelKeyPress -= onCtrlC;
        }

        Summarise(context.Out, job);
        return ExitCode(job);
    }

    /// <summary>Waits for the job's end with long polls, without drawing anything.</summary>
    public static async Task<Job> WaitAsync(IGpuLxcClient client, string jobId, CancellationToken cancellationToken)
    {
        while (true)
        {
            var job = await client.GetJobAsync(jobId, 60, cancellationToken);
            if (job.IsFinished)
            {
                return job;
            }
        }
    }

    public static int ExitCode(Job job) => job.State == JobState.Succeeded ? ExitCodes.Ok : ExitCodes.Failure;

    /// <summary>The job's final state, its error with the failed command and the fix, its result.</summary>
    public static void Summarise(IAnsiConsole console, Job job)
    {
        console.MarkupLineInterpolated($"job {job.Id} [{Output.Colour(job.State)}]{Output.Name(job.State)}[/]");
        if (job.Error is { } error)
        {
            console.MarkupLineInterpolated($"[red]error:[/] {error.Message}");
            if (error.Command is not null)
            {
                console.MarkupLineInterpolated($"  command: {error.Command} (exit code {error.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "—"})");
            }

            if (!string.IsNullOrEmpty(error.StderrTail))
            {
                console.MarkupLineInterpolated($"[grey]{error.StderrTail.TrimEnd()}[/]");
            }

            if (error.Fix is not null)
            {
                console.MarkupLineInterpolated($"[yellow]fix:[/] {error.Fix}");
            }
        }

        if (job.Result is { } result)
        {
            var parts = new List<string>();
            if (result.HostVersion is not null)
            {
                parts.Add($"host {result.HostVersion}");
            }

            if (result.InstalledVersion is not null)
            {
                parts.Add($"installed {result.InstalledVersion}");
            }

            if (result.RebootRequired == true)
            {
                parts.Add("reboot required");
            }

            if (result.Match is { } match)
            {
                parts.Add(match ? "versions match" : "versions differ");
            }

            if (parts.Count > 0)
            {
                console.MarkupLineInterpolated($"result: {string.Join(", ", parts)}");
            }
        }
    }

    /// <summary>A log line cut to the terminal's width: a wrapped line above the live bar would throw its redraw off by a row.</summary>
    private static string OneRow(string text, int width) => text.Length < width ? text : string.Concat(text.AsSpan(0, Math.Max(width - 2, 1)), "…");

    private static string Describe(Job job) =>
        job.Steps.FirstOrDefault(s => s.State == JobStepState.Running) is { } running
            ? $"{Output.Name(job.Kind)} {job.Target}: {running.Title ?? running.Name}"
            : $"{Output.Name(job.Kind)} {job.Target}: {Output.Name(job.State)}";

    private static void ReportSteps(IAnsiConsole console, Job job, Dictionary<string, JobStepState> seen)
    {
        foreach (var step in job.Steps)
        {
            var ended = step.State is JobStepState.Succeeded or JobStepState.Failed or JobStepState.Skipped or JobStepState.Cancelled;
            if (ended && (!seen.TryGetValue(step.Name, out var before) || before != step.State))
            {
                var mark = step.State switch
                {
                    JobStepState.Succeeded => "✔",
                    JobStepState.Failed => "✘",
                    _ => "–",
                };
                var line = OneRow($"{mark} {step.Title ?? step.Name}{(step.Message is null ? "" : $" — {step.Message}")}", console.Profile.Width);
                console.MarkupLineInterpolated($"[{Output.Colour(step.State)}]{line}[/]");
            }

            seen[step.Name] = step.State;
        }
    }

    private static async Task<int> InterruptedAsync(CommandContext context, string jobId)
    {
        var cancel = context.Host.Interactive &&
                     await context.Out.ConfirmAsync($"Stopped following job {jobId}. Cancel the job too?", defaultValue: false, context.CancellationToken);
        if (!cancel)
        {
            context.Out.MarkupLineInterpolated($"The job goes on. Follow it again with: gpulxc jobs wait {jobId}");
            return ExitCodes.Interrupted;
        }

        var job = await context.Client.CancelJobAsync(jobId, context.CancellationToken);
        Summarise(context.Out, job);
        return ExitCodes.Interrupted;
    }
}
