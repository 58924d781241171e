using System.Collections.Concurrent;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Tests.HostAccess;

public sealed class HostCommandRunnerFacts : IDisposable
{
    private readonly HostTree _tree = new();
    private readonly HostCommandRunner _runner;

    public HostCommandRunnerFacts()
    {
        _runner = new HostCommandRunner(Options.Create(new HostAccessOptions { BinPath = _tree.BinDir }), NullLogger<HostCommandRunner>.Instance);
    }

    public void Dispose() => _tree.Dispose();

    [Fact]
    public async Task RunAsync_PassesEachArgumentVerbatim_WithoutAShell()
    {
        _tree.WithCommand("args", """for a in "$@"; do printf '<%s>\n' "$a"; done""");

        var result = await _runner.RunAsync(new HostCommand("args", "two words", "$(reboot)", "; rm -rf /", "*"), CancellationToken.None);

        Assert.Equal("<two words>\n<$(reboot)>\n<; rm -rf />\n<*>\n", result.StandardOutput);
        Assert.True(result.Succeeded);
    }

    [Fact]
    public async Task RunAsync_ReturnsExitCodeAndBothStreams_WhenTheCommandFails()
    {
        _tree.WithCommand("fails", "echo out; echo err >&2; exit 3");

        var result = await _runner.RunAsync(new HostCommand("fails"), CancellationToken.None);

        Assert.Equal(3, result.ExitCode);
        Assert.False(result.Succeeded);
        Assert.Equal("out\n", result.StandardOutput);
        Assert.Equal("err\n", result.StandardError);
    }

    [Fact]
    public async Task RunAsync_StreamsLinesAsTheyAreWritten()
    {
        _tree.WithCommand("chatty", "echo one; echo two >&2; echo three");
        var lines = new ConcurrentQueue<HostOutputLine>();

        await _runner.RunAsync(new HostCommand("chatty")
        {
            OnOutput = (line, _) =>
            {
                lines.Enqueue(line);
                return Task.CompletedTask;
            },
        }, CancellationToken.None);

        Assert.Equal(["one", "three"], lines.Where(l => l.Stream == HostOutputChannel.StandardOutput).Select(l => l.Text));
        Assert.Equal(["two"], lines.Where(l => l.Stream == HostOutputChannel.StandardError).Select(l => l.Text));
    }

    [Fact]
    public async Task RunAsync_PrefersBinPathOverPath_AndRunsWithTheCLocale()
    {
        _tree.WithCommand("uname", "echo stub-uname \"$LC_ALL\"");

        var result = await _runner.RunAsync(new HostCommand("uname", "-r"), CancellationToken.None);

        Assert.Equal("stub-uname C\n", result.StandardOutput);
    }

    [Fact]
    public async Task RunAsync_Throws_WhenTheProgramIsNotInstalled()
    {
        var error = await Assert.ThrowsAsync<HostCommandNotFoundException>(() =>
            _runner.RunAsync(new HostCommand("gpulxc-no-such-program"), CancellationToken.None));

        Assert.Equal("gpulxc-no-such-program", error.Program);
    }

    [Theory]
    [InlineData("sh -c reboot")]
    [InlineData("../bin/sh")]
    [InlineData("/usr/../bin/sh")]
    [InlineData("$(reboot)")]
    [InlineData("")]
    public async Task RunAsync_RefusesProgramNamesAShellWouldInterpret(string program)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _runner.RunAsync(new HostCommand(program), CancellationToken.None));
    }

    [Fact]
    public async Task RunAsync_KillsTheWholeProcessTree_WhenTheTimeoutElapses()
    {
        _tree.WithCommand("spawner", "sleep 300 & echo $!; wait");
        var childPid = new TaskCompletionSource<int>();

        await Assert.ThrowsAsync<HostCommandTimeoutException>(() => _runner.RunAsync(new HostCommand("spawner")
        {
            Timeout = TimeSpan.FromSeconds(1),
            OnOutput = (line, _) =>
            {
                childPid.TrySetResult(int.Parse(line.Text, System.Globalization.CultureInfo.InvariantCulture));
                return Task.CompletedTask;
            },
        }, CancellationToken.None));

        await AssertProcessGoneAsync(await childPid.Task);
    }

    [Fact]
    public async Task RunAsync_KillsTheWholeProcessTree_WhenCancelled()
    {
        _tree.WithCommand("spawner", "sleep 300 & echo $!; wait");
        var childPid = new TaskCompletionSource<int>();
        using var cancellation = new CancellationTokenSource();

        var run = _runner.RunAsync(new HostCommand("spawner")
        {
            OnOutput = (line, _) =>
            {
                childPid.TrySetResult(int.Parse(line.Text, System.Globalization.CultureInfo.InvariantCulture));
                return Task.CompletedTask;
            },
        }, cancellation.Token);
        var pid = await childPid.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        await AssertProcessGoneAsync(pid);
    }

    [Fact]
    public void FindExecutable_ReturnsNull_ForAFileThatIsNotExecutable()
    {
        File.WriteAllText(Path.Join(_tree.BinDir, "plain"), "data");

        Assert.Null(_runner.FindExecutable("plain"));
    }

    /// <summary>Gone, or a zombie waiting for init to reap it: either way no longer running.</summary>
    private static async Task AssertProcessGoneAsync(int pid)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var stat = $"/proc/{pid}/stat";
            if (!File.Exists(stat) || File.ReadAllText(stat).Split(") ")[^1].StartsWith('Z'))
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail($"process {pid} (a grandchild of the runner) is still running");
    }
}
