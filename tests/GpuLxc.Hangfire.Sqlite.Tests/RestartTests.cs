using System.Diagnostics;
using Hangfire.States;

namespace GpuLxc.Hangfire.Sqlite.Tests;

/// <summary>
/// Job servers in their own processes on one file (invisibility timeout 2 s): while the process running a job lives,
/// no other process runs it; once that process is killed, the restarted server fetches the job again and finishes it.
/// </summary>
public sealed class RestartTests : IDisposable
{
    private readonly TestStore _store = new(o => o.TimeProvider = TimeProvider.System);
    private readonly string _markers;
    private readonly List<Process> _processes = [];

    public RestartTests()
    {
        _markers = Directory.CreateDirectory(Path.Join(_store.Directory, "markers")).FullName;
    }

    public void Dispose()
    {
        foreach (var process in _processes)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
            }

            process.Dispose();
        }

        _store.Dispose();
    }

    [Fact]
    public async Task AJobWhoseProcessWasKilledRunsAgainAfterRestartAndNeverTwiceWhileItsOwnerLives()
    {
        var first = Start("serve");
        var id = (await RunToEnd("enqueue")).Trim();
        var started = await WaitForMarkers("started-", 1, TimeSpan.FromSeconds(30));
        Assert.StartsWith($"started-{first.Id}-", started.Single(), StringComparison.Ordinal);

        // A second server on the same file for four invisibility timeouts: the owner's keep-alive keeps the job.
        var second = Start("serve");
        await Task.Delay(TimeSpan.FromSeconds(8));
        Assert.Single(Markers("started-"));
        second.StandardInput.Close();
        Assert.True(second.WaitForExit(30_000), "the second server did not stop");

        first.Kill();
        await first.WaitForExitAsync();
        Assert.Equal(ProcessingState.StateName, _store.Storage.GetConnection().GetJobData(id)!.State);

        File.WriteAllText(Path.Join(_markers, "finish"), "");
        var restarted = Start("serve");
        await WaitForMarkers($"finished-{restarted.Id}", 1, TimeSpan.FromSeconds(60));
        var runs = Markers("started-");
        Assert.Equal(2, runs.Count);
        Assert.Contains(runs, m => m.StartsWith($"started-{restarted.Id}-", StringComparison.Ordinal));

        var deadline = Stopwatch.StartNew();
        while (_store.Storage.GetConnection().GetJobData(id)!.State != SucceededState.StateName && deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(100);
        }

        Assert.Equal(SucceededState.StateName, _store.Storage.GetConnection().GetJobData(id)!.State);
        Assert.Equal(0, _store.Count("SELECT COUNT(*) FROM JobQueue"));
    }

    private Process Start(string mode)
    {
        var host = Path.Join(AppContext.BaseDirectory, "GpuLxc.Hangfire.Sqlite.TestHost.dll");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { host, mode, _store.DatabasePath, _markers })
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
        _processes.Add(process);
        return process;
    }

    private async Task<string> RunToEnd(string mode)
    {
        var process = Start(mode);
        process.StandardInput.Close();
        var stdout = await process.StandardOutput.ReadToEndAsync();
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{mode} exited {process.ExitCode}: {stderr}");
        return stdout;
    }

    private List<string> Markers(string prefix) =>
        Directory.EnumerateFiles(_markers).Select(Path.GetFileName).Where(n => n!.StartsWith(prefix, StringComparison.Ordinal)).ToList()!;

    private async Task<List<string>> WaitForMarkers(string prefix, int count, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (Markers(prefix).Count < count)
        {
            Assert.True(deadline.Elapsed < timeout, $"no '{prefix}' marker after {timeout}");
            await Task.Delay(50);
        }

        return Markers(prefix);
    }
}
