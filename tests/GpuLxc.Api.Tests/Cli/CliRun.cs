using GpuLxc.Api.Tests.Support;
using GpuLxc.Cli;
using Spectre.Console;

namespace GpuLxc.Api.Tests.Cli;

/// <summary>One <c>gpulxc</c> command line run in-process against a service: its exit code, stdout and stderr.</summary>
public sealed record CliRun(int ExitCode, string Out, string Error)
{
    /// <summary>Runs <paramref name="args"/> against <paramref name="factory"/>'s service with the admin key (or <paramref name="environment"/>'s settings).</summary>
    public static Task<CliRun> RunAsync(GpuLxcApiFactory factory, IReadOnlyDictionary<string, string>? environment = null, params string[] args) =>
        RunAsync(factory, environment, CancellationToken.None, args);

    /// <summary>As above, with <paramref name="cancellationToken"/> standing in for Ctrl-C.</summary>
    public static async Task<CliRun> RunAsync(GpuLxcApiFactory factory, IReadOnlyDictionary<string, string>? environment, CancellationToken cancellationToken, params string[] args)
    {
        var variables = environment ?? new Dictionary<string, string> { ["GPULXC_URL"] = "http://localhost", ["GPULXC_KEY"] = TestKeys.Admin };
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var host = new CliHost
        {
            Out = Console(stdout),
            Error = Console(stderr),
            Environment = name => variables.GetValueOrDefault(name),
            ConfigFiles = [],
            Handler = factory.Server.CreateHandler(),
        };
        var exitCode = await GpuLxcCli.RunAsync(args, host, cancellationToken);
        return new CliRun(exitCode, stdout.ToString(), stderr.ToString());
    }

    public static Task<CliRun> RunAsync(GpuLxcApiFactory factory, params string[] args) => RunAsync(factory, null, args);

    /// <summary>A plain console: no colours, no cursor moves, wide enough that tables keep a row on one line.</summary>
    private static IAnsiConsole Console(TextWriter writer)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 240;
        return console;
    }

    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Out}\nstderr:\n{Error}";
}
