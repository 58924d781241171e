using System.CommandLine;
using System.Net.Http.Headers;
using System.Text.Json;
using GpuLxc.Client;
using Spectre.Console;

namespace GpuLxc.Cli;

/// <summary>
/// The <c>gpulxc</c> command: every subcommand, the options they share and the one place errors become output and
/// exit codes (<see cref="ExitCodes"/>). It talks to the service only through <see cref="IGpuLxcClient"/>.
/// </summary>
public static class GpuLxcCli
{
    /// <summary><c>--json</c>: print the service's answer as JSON on stdout, nothing else (errors: the problem as JSON).</summary>
    public static readonly Option<bool> Json = new("--json") { Description = "Print the answer as JSON, for scripts", Recursive = true };

    /// <summary>Runs one command line; its exit code.</summary>
    public static async Task<int> RunAsync(string[] args, CliHost host, CancellationToken cancellationToken = default)
    {
        var root = new RootCommand("gpulxc: share NVIDIA GPUs with LXC containers through the GpuLxc service.\n" +
                                   "The service's URL and key come from GPULXC_URL and GPULXC_KEY, or ~/.config/gpulxc/config.json, or /etc/gpulxc/cli.json.\n" +
                                   ExitCodes.Help);
        root.Options.Add(Json);
        foreach (var command in InventoryCommands.Create(host).Concat(AttachmentCommands.Create(host)).Concat(DriverCommands.Create(host))
                     .Concat(JobCommands.Create(host)).Concat(NvencCommands.Create(host)).Concat(EventCommands.Create(host)))
        {
            root.Subcommands.Add(command);
        }

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
            {
                host.Error.MarkupLineInterpolated($"[red]error:[/] {error.Message}");
            }

            host.Error.MarkupLine("[grey]See gpulxc --help.[/]");
            return ExitCodes.Usage;
        }

        // Ctrl-C is the job follower's to handle (it asks whether to cancel the job), not the parser's.
        var invocation = new InvocationConfiguration
        {
            Output = host.Out.Profile.Out.Writer,
            Error = host.Error.Profile.Out.Writer,
            ProcessTerminationTimeout = null,
            EnableDefaultExceptionHandler = false,
        };
        return await parse.InvokeAsync(invocation, cancellationToken);
    }

    /// <summary>A command's action, with the client made from the settings and errors turned into output and exit codes.</summary>
    public static void Handle(this Command command, CliHost host, Func<CommandContext, Task<int>> action) =>
        command.SetAction(async (parse, cancellationToken) =>
        {
            var json = parse.GetValue(Json);
            try
            {
                var settings = CliSettings.Resolve(host);
                using var http = host.Handler is { } handler ? new HttpClient(handler, disposeHandler: false) : new HttpClient();
                http.BaseAddress = settings.Url;
                http.Timeout = TimeSpan.FromMinutes(6);
                http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", settings.Key);
                http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("gpulxc", typeof(GpuLxcCli).Assembly.GetName().Version?.ToString(3)));
                return await action(new CommandContext(host, parse, new GpuLxcClient(http), json, settings, cancellationToken));
            }
            catch (CliUsageException e)
            {
                WriteError(host, json, e.Message, e.Fix, problem: null);
                return ExitCodes.Usage;
            }
            catch (GpuLxcApiException e)
            {
                var problem = e.Problem;
                WriteError(host, json, problem is null ? $"The service answered {e.StatusCode}." : $"{problem.Title}: {problem.Detail}",
                    problem?.Fix ?? (e.StatusCode == 401 ? "Check GPULXC_KEY or the config file's key." : null), problem);
                foreach (var (field, messages) in problem?.Errors ?? new Dictionary<string, IReadOnlyList<string>>())
                {
                    host.Error.MarkupLineInterpolated($"  [yellow]{field}[/]: {string.Join(" ", messages)}");
                }

                return ExitCodes.ForStatus(e.StatusCode);
            }
            catch (HttpRequestException e)
            {
                WriteError(host, json, $"Cannot reach the service: {e.Message}", "Is it running? Check GPULXC_URL or the config file's url.", problem: null);
                return ExitCodes.Failure;
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                WriteError(host, json, "The service did not answer in time.", null, problem: null);
                return ExitCodes.Failure;
            }
        });

    private static void WriteError(CliHost host, bool json, string message, string? fix, ProblemDetails? problem)
    {
        if (json)
        {
            host.Out.Profile.Out.Writer.WriteLine(problem is null
                ? JsonSerializer.Serialize(new { title = message, fix }, Output.Indented)
                : JsonSerializer.Serialize(problem, Output.Indented));
        }

        host.Error.MarkupLineInterpolated($"[red]error:[/] {message}");
        if (!string.IsNullOrEmpty(fix))
        {
            host.Error.MarkupLineInterpolated($"[yellow]fix:[/] {fix}");
        }
    }
}

/// <summary>What a command's action gets: where to write, its parsed arguments, the client, <c>--json</c>.</summary>
public sealed record CommandContext(CliHost Host, ParseResult Parse, IGpuLxcClient Client, bool Json, CliSettings Settings, CancellationToken CancellationToken)
{
    public IAnsiConsole Out => Host.Out;

    public T Get<T>(Option<T> option) => Parse.GetValue(option)!;

    public T Get<T>(Argument<T> argument) => Parse.GetValue(argument)!;
}
