using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using CliWrap;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.HostAccess;

/// <summary>The one way the service starts processes on the host.</summary>
public interface IHostCommandRunner
{
    /// <summary>The full path <paramref name="program"/> would run from, or null when it is not installed.</summary>
    string? FindExecutable(string program);

    /// <summary>
    /// Runs the command to completion and returns its exit code and output, whatever the exit code.
    /// Cancellation and the timeout kill the whole process tree.
    /// </summary>
    /// <exception cref="HostCommandNotFoundException">The program is not installed.</exception>
    /// <exception cref="HostCommandTimeoutException">The command ran past its timeout.</exception>
    Task<HostCommandResult> RunAsync(HostCommand command, CancellationToken cancellationToken);
}

internal sealed partial class HostCommandRunner : IHostCommandRunner
{
    /// <summary>Output kept in the result; everything still reaches <see cref="HostCommand.OnOutput"/>.</summary>
    private const int MaxCapturedChars = 1024 * 1024;

    /// <summary>
    /// util-linux's setsid, from the system's own directories (never a stub or a wrapper on BinPath that would run
    /// it elsewhere): each command leads a session of its own, so that its whole tree can be found after a crash.
    /// </summary>
    private static readonly string? Setsid = new[] { "/usr/bin/setsid", "/bin/setsid" }.FirstOrDefault(IsExecutable);

    private readonly string[] _searchPath;
    private readonly string _pathVariable;
    private readonly ILogger<HostCommandRunner> _logger;
    private readonly HostCommandLedger? _ledger;
    private readonly TimeProvider _time;

    /// <param name="options">Where host commands are looked up (<see cref="HostAccessOptions.BinPath"/>).</param>
    /// <param name="logger">Logs each command at Debug, timeouts at Warning.</param>
    /// <param name="ledger">Where running commands are recorded for the next start to end if this process is killed; none in unit tests.</param>
    /// <param name="time">The clock of the ledger's records.</param>
    public HostCommandRunner(IOptions<HostAccessOptions> options, ILogger<HostCommandRunner> logger, HostCommandLedger? ledger = null, TimeProvider? time = null)
    {
        _logger = logger;
        _ledger = ledger;
        _time = time ?? TimeProvider.System;
        var binPath = options.Value.BinPath ?? "";
        var systemPath = Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin";
        _pathVariable = string.IsNullOrWhiteSpace(binPath) ? systemPath : $"{binPath}:{systemPath}";
        _searchPath = _pathVariable.Split(':', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    public string? FindExecutable(string program)
    {
        if (!ProgramPattern().IsMatch(program))
        {
            throw new ArgumentException($"'{program}' is not a valid program name.", nameof(program));
        }

        if (program.StartsWith('/'))
        {
            return IsExecutable(program) ? program : null;
        }

        return _searchPath.Select(directory => Path.Join(directory, program)).FirstOrDefault(IsExecutable);
    }

    public async Task<HostCommandResult> RunAsync(HostCommand command, CancellationToken cancellationToken)
    {
        if (command.Arguments.Any(argument => argument.Contains('\0', StringComparison.Ordinal)))
        {
            throw new ArgumentException("Arguments must not contain NUL characters.", nameof(command));
        }

        var executable = FindExecutable(command.Program) ?? throw new HostCommandNotFoundException(command.Program);
        var stdout = new CappedText();
        var stderr = new CappedText();

        var cli = (Setsid is null
                ? Cli.Wrap(executable).WithArguments(command.Arguments)
                : Cli.Wrap(Setsid).WithArguments(arguments => arguments.Add("--wait").Add(executable).Add(command.Arguments)))
            .WithWorkingDirectory("/")
            .WithEnvironmentVariables(env =>
            {
                env.Set("PATH", _pathVariable).Set("LC_ALL", "C").Set("LANG", "C");
                foreach (var (name, value) in command.Environment ?? new Dictionary<string, string>())
                {
                    env.Set(name, value);
                }
            })
            .WithValidation(CommandResultValidation.None)
            .WithStandardOutputPipe(Target(stdout, HostOutputChannel.StandardOutput, command.OnOutput))
            .WithStandardErrorPipe(Target(stderr, HostOutputChannel.StandardError, command.OnOutput));
        if (command.StandardInputPath is { } input)
        {
            cli = cli.WithStandardInputPipe(PipeSource.FromFile(input));
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(command.Timeout);

        LogStarting(_logger, command);
        var started = Stopwatch.GetTimestamp();
        try
        {
            // CliWrap's forceful cancellation kills the entire process tree.
            var running = cli.ExecuteAsync(timeout.Token);
            using var recorded = _ledger?.Record(running.ProcessId, command.ToString(), _time.GetUtcNow());
            var result = await running;
            var elapsed = Stopwatch.GetElapsedTime(started);
            LogFinished(_logger, command, result.ExitCode, elapsed.TotalMilliseconds);
            return new HostCommandResult(result.ExitCode, stdout.ToString(), stderr.ToString(), elapsed);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            LogTimedOut(_logger, command, command.Timeout.TotalSeconds);
            throw new HostCommandTimeoutException(command);
        }
    }

    private static PipeTarget Target(CappedText capture, HostOutputChannel stream, Func<HostOutputLine, CancellationToken, Task>? onOutput) =>
        PipeTarget.ToDelegate(async (line, cancellationToken) =>
        {
            capture.AppendLine(line);
            if (onOutput is not null)
            {
                await onOutput(new HostOutputLine(stream, line), cancellationToken);
            }
        });

    private static bool IsExecutable(string path) =>
        File.Exists(path) &&
        (File.GetUnixFileMode(path) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;

    /// <summary>A bare name, or an absolute path without <c>..</c>; nothing a shell would interpret.</summary>
    [GeneratedRegex(@"^(?:[A-Za-z0-9_][A-Za-z0-9_.+-]*|(?:/[A-Za-z0-9_][A-Za-z0-9_.+-]*)+)\z")]
    private static partial Regex ProgramPattern();

    [LoggerMessage(Level = LogLevel.Debug, Message = "Running {Command}")]
    private static partial void LogStarting(ILogger logger, HostCommand command);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Command} exited with {ExitCode} after {ElapsedMs:0} ms")]
    private static partial void LogFinished(ILogger logger, HostCommand command, int exitCode, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Command} ran past its {TimeoutSeconds} s timeout; its process tree was killed")]
    private static partial void LogTimedOut(ILogger logger, HostCommand command, double timeoutSeconds);

    private sealed class CappedText
    {
        private readonly StringBuilder _text = new();

        public void AppendLine(string line)
        {
            if (_text.Length + line.Length < MaxCapturedChars)
            {
                _text.Append(line).Append('\n');
            }
        }

        public override string ToString() => _text.ToString();
    }
}
