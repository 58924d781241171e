using Spectre.Console;

namespace GpuLxc.Cli;

/// <summary>
/// Where <c>gpulxc</c> writes, what it reads its settings from and how it reaches the service: the process's own
/// (<see cref="FromProcess"/>), or a test's (a captured console, a handler into an in-process service).
/// </summary>
public sealed class CliHost
{
    /// <summary>Standard output: tables, and with <c>--json</c> the JSON alone.</summary>
    public required IAnsiConsole Out { get; init; }

    /// <summary>Standard error: errors, their fixes, hints.</summary>
    public required IAnsiConsole Error { get; init; }

    /// <summary>Reads an environment variable (<c>GPULXC_URL</c>, <c>GPULXC_KEY</c>, <c>GPULXC_CONFIG</c>, <c>HOME</c>, <c>XDG_CONFIG_HOME</c>).</summary>
    public Func<string, string?> Environment { get; init; } = System.Environment.GetEnvironmentVariable;

    /// <summary>The config files looked at, first found wins, after <c>GPULXC_CONFIG</c>; null: the usual user and system paths.</summary>
    public IReadOnlyList<string>? ConfigFiles { get; init; }

    /// <summary>The handler requests go through; null: a new socket handler.</summary>
    public HttpMessageHandler? Handler { get; init; }

    /// <summary>Whether Ctrl-C can be caught and a question asked (a terminal on both ends).</summary>
    public bool Interactive { get; init; }

    /// <summary>The process's own console, environment and network.</summary>
    public static CliHost FromProcess()
    {
        var interactive = !System.Console.IsInputRedirected && !System.Console.IsOutputRedirected;
        return new CliHost
        {
            Out = ConsoleOn(System.Console.Out, System.Console.IsOutputRedirected),
            Error = ConsoleOn(System.Console.Error, System.Console.IsErrorRedirected),
            Interactive = interactive,
        };
    }

    /// <summary>
    /// A console on <paramref name="writer"/>. Redirected output (a pipe, a file) has no width: Spectre would wrap it
    /// at 80 columns, breaking diff lines and job ids that a script greps, so it gets room for the longest line.
    /// </summary>
    private static IAnsiConsole ConsoleOn(TextWriter writer, bool redirected)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer) });
        if (redirected)
        {
            console.Profile.Width = 4096;
        }

        return console;
    }
}
