using System.CommandLine;
using System.Globalization;
using GpuLxc.Client;
using Spectre.Console;

namespace GpuLxc.Cli;

/// <summary><c>jobs list|show|wait|log|cancel</c>: the background jobs, kept after they finish.</summary>
public static class JobCommands
{
    public static IEnumerable<Command> Create(CliHost host)
    {
        var jobs = new Command("jobs", "Driver installs, verifications and re-syncs");

        var state = CliOptions.Choice<JobState>("--state", "a job state", "Only jobs in this state");
        var kind = CliOptions.Choice<JobKind>("--kind", "a job kind", "Only jobs of this kind");
        var target = new Option<string?>("--target") { Description = "Only jobs on this target: host or a container" };
        var limit = CliOptions.Number("--limit", "At most this many (1-1000, default 100)", 1, 1000);
        var list = new Command("list", "Jobs, newest first") { state, kind, target, limit };
        list.Handle(host, async context =>
        {
            var found = await context.Client.ListJobsAsync(context.Get(state), context.Get(kind), context.Get(target), context.Get(limit), context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(found);
                return ExitCodes.Ok;
            }

            var table = new Table().Border(TableBorder.Rounded).AddColumns("id", "kind", "target", "state", "progress", "created", "by");
            foreach (var job in found)
            {
                table.AddRow(new Text(job.Id), new Text(Output.Name(job.Kind)), new Text(job.Target), new Markup($"[{Output.Colour(job.State)}]{Output.Name(job.State)}[/]"),
                    new Text($"{job.Progress}%"), new Text(job.CreatedAt.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)), new Text(job.RequestedBy ?? ""));
            }

            context.Out.Write(table);
            return ExitCodes.Ok;
        });
        jobs.Subcommands.Add(list);

        var showId = JobId();
        var show = new Command("show", "One job: state, steps, error, result") { showId };
        show.Handle(host, async context =>
        {
            var job = await context.Client.GetJobAsync(context.Get(showId), null, context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(job);
                return ExitCodes.Ok;
            }

            var steps = new Table().Border(TableBorder.Rounded).AddColumns("step", "state", "message");
            foreach (var step in job.Steps)
            {
                steps.AddRow(new Text(step.Title ?? step.Name), new Markup($"[{Output.Colour(step.State)}]{Output.Name(step.State)}[/]"), new Text(step.Message ?? ""));
            }

            context.Out.MarkupLineInterpolated($"[bold]{Output.Name(job.Kind)}[/] on {job.Target}, {job.Progress}%, by {job.RequestedBy ?? "—"}");
            context.Out.Write(steps);
            JobFollower.Summarise(context.Out, job);
            return ExitCodes.Ok;
        });
        jobs.Subcommands.Add(show);

        var waitId = JobId();
        var wait = new Command("wait", "Follow a job to its end with a progress bar (exit code 0 only if it succeeded)") { waitId };
        wait.Handle(host, context => JobFollower.FollowAsync(context, context.Get(waitId)));
        jobs.Subcommands.Add(wait);

        var logId = JobId();
        var after = CliOptions.Number("--after", "Only the lines after this line number", 0, int.MaxValue);
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep printing new lines until the job ends" };
        var log = new Command("log", "A job's log: the commands it ran and every line they printed") { logId, after, follow };
        log.Handle(host, context => LogAsync(context, context.Get(logId), context.Get(after) ?? 0, context.Get(follow)));
        jobs.Subcommands.Add(log);

        var cancelId = JobId();
        var cancel = new Command("cancel", "Cancel a job: a running command is killed with its process tree") { cancelId };
        cancel.Handle(host, async context =>
        {
            var job = await context.Client.CancelJobAsync(context.Get(cancelId), context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(job);
            }
            else
            {
                JobFollower.Summarise(context.Out, job);
            }

            return ExitCodes.Ok;
        });
        jobs.Subcommands.Add(cancel);
        yield return jobs;
    }

    private static Argument<string> JobId() => new("job") { Description = "The job's id" };

    private static async Task<int> LogAsync(CommandContext context, string jobId, int after, bool follow)
    {
        var lines = new List<JobLogLine>();
        while (true)
        {
            var log = await context.Client.GetJobLogAsync(jobId, after, null, context.CancellationToken);
            after = log.Next;
            if (context.Json)
            {
                lines.AddRange(log.Lines);
            }
            else
            {
                foreach (var line in log.Lines)
                {
                    context.Out.Profile.Out.Writer.WriteLine(line.Stream == "stderr" ? $"{line.Text}" : line.Text);
                }
            }

            var finished = log.State is JobState.Succeeded or JobState.Failed or JobState.Cancelled;
            if (!follow || (finished && log.Lines.Count == 0))
            {
                break;
            }

            if (log.Lines.Count == 0)
            {
                await context.Client.GetJobAsync(jobId, 1, context.CancellationToken);
            }
        }

        if (context.Json)
        {
            context.WriteJson(lines);
        }

        return ExitCodes.Ok;
    }
}
