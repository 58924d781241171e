namespace GpuLxc.Api.HostAccess;

/// <summary>One host command: a program and its argv, never a shell string.</summary>
public sealed record HostCommand(string Program, IReadOnlyList<string> Arguments)
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    public HostCommand(string program, params string[] arguments)
        : this(program, (IReadOnlyList<string>)arguments)
    {
    }

    /// <summary>The command's process tree is killed when this elapses.</summary>
    public TimeSpan Timeout { get; init; } = DefaultTimeout;

    /// <summary>Receives every output line as it is written (for job logs).</summary>
    public Func<HostOutputLine, CancellationToken, Task>? OnOutput { get; init; }

    /// <summary>Variables set for the command on top of the runner's own (<c>PATH</c>, <c>LC_ALL</c>, <c>LANG</c>).</summary>
    public IReadOnlyDictionary<string, string>? Environment { get; init; }

    /// <summary>A file on this machine piped to the command's standard input (a file copied into a container).</summary>
    public string? StandardInputPath { get; init; }

    public override string ToString() => string.Join(' ', Arguments.Prepend(Program));
}

public enum HostOutputChannel
{
    StandardOutput,
    StandardError,
}

public readonly record struct HostOutputLine(HostOutputChannel Stream, string Text);

public sealed record HostCommandResult(int ExitCode, string StandardOutput, string StandardError, TimeSpan Duration)
{
    public bool Succeeded => ExitCode == 0;
}

/// <summary>The program is not in <c>GpuLxc:Host:BinPath</c> nor <c>PATH</c>.</summary>
public sealed class HostCommandNotFoundException(string program)
    : Exception($"'{program}' was not found in GpuLxc:Host:BinPath or PATH.")
{
    public string Program { get; } = program;
}

/// <summary>The command ran past its timeout; its process tree was killed.</summary>
public sealed class HostCommandTimeoutException(HostCommand command)
    : Exception($"'{command}' did not finish within {command.Timeout.TotalSeconds:0.#} s and was killed.")
{
    public HostCommand Command { get; } = command;
}
