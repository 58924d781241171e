using System.Diagnostics;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Tests.HostAccess;

/// <summary>
/// Host commands are recorded while they run, each in a session of its own, so that a start after a crash can end
/// the whole tree a killed service left behind — and nothing else.
/// </summary>
public sealed class HostCommandLedgerFacts : IDisposable
{
    private readonly HostTree _tree = new();
    private readonly string _ledgerDirectory = Directory.CreateTempSubdirectory("gpulxc-ledger-").FullName;
    private readonly List<Process> _started = [];

    public void Dispose()
    {
        foreach (var process in _started)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Already gone, as it should be.
            }

            process.Dispose();
        }

        _tree.Dispose();
        HostTree.DeleteDirectory(_ledgerDirectory);
    }

    [Fact]
    public async Task RunAsync_RecordsTheCommandWhileItRuns_InASessionItLeads()
    {
        var ledger = new HostCommandLedger(_ledgerDirectory);
        var runner = new HostCommandRunner(Options.Create(new HostAccessOptions { BinPath = _tree.BinDir }), NullLogger<HostCommandRunner>.Instance, ledger);
        var seen = Path.Join(_ledgerDirectory, "seen");
        // The record is written just after the process starts: the stub waits for it (5 s at most), as a real command
        // runs long enough to be recorded.
        _tree.WithCommand("recorded",
            $"for i in $(seq 50); do ls '{_ledgerDirectory}' | grep -q json && break; sleep 0.1; done; " +
            $"ls '{_ledgerDirectory}' > '{seen}'; read -r stat < /proc/$$/stat; echo \"$$ $stat\"");

        var result = await runner.RunAsync(new HostCommand("recorded"), CancellationToken.None);

        var fields = result.StandardOutput.Trim().Split(' ');
        var pid = fields[0];
        var session = fields[1 + 5];
        Assert.Equal(pid, session);
        Assert.Contains($"{pid}.json", File.ReadAllText(seen), StringComparison.Ordinal);
        Assert.Empty(ledger.Entries());
    }

    [Fact]
    public async Task OrphanedCommandReaper_EndsTheWholeSessionAKilledServiceLeft_AndForgetsIt()
    {
        var ledger = new HostCommandLedger(_ledgerDirectory);
        // What a killed service leaves: a command leading its own session, with a child that no longer has its parent.
        var leader = Start("/usr/bin/setsid", "--wait", "/bin/sh", "-c", "sh -c 'sleep 300' & trap '' TERM; sleep 300");
        await WaitForAsync(() => Session(leader.Id).Count >= 3);
        using (ledger.Record(leader.Id, "apt-get install -y nvidia-driver", DateTimeOffset.UtcNow))
        {
            var members = Session(leader.Id);

            await new OrphanedCommandReaper(ledger, NullLogger<OrphanedCommandReaper>.Instance).StartAsync(CancellationToken.None);

            Assert.All(members, pid => Assert.False(Directory.Exists($"/proc/{pid}") && !IsZombie(pid), $"pid {pid} still runs"));
            Assert.Empty(ledger.Entries());
        }
    }

    [Fact]
    public async Task OrphanedCommandReaper_LeavesAProcessAlone_WhenItsPidWasReused()
    {
        var ledger = new HostCommandLedger(_ledgerDirectory);
        var bystander = Start("/bin/sleep", "300");
        using (ledger.Record(bystander.Id, "dpkg --configure -a", DateTimeOffset.UtcNow))
        {
            // The same pid, but a start time that is not this process's: the recorded command ended long ago.
            var path = Path.Join(_ledgerDirectory, $"{bystander.Id}.json");
            var entry = ledger.Entries().Single();
            File.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(entry with { StartTicks = entry.StartTicks - 1 }));

            await new OrphanedCommandReaper(ledger, NullLogger<OrphanedCommandReaper>.Instance).StartAsync(CancellationToken.None);

            Assert.False(bystander.HasExited);
            Assert.Empty(ledger.Entries());
        }
    }

    private Process Start(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program) { UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info)!;
        _started.Add(process);
        return process;
    }

    /// <summary>Live processes whose session id is <paramref name="session"/>.</summary>
    private static List<int> Session(int session) =>
        Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0)
            .Where(pid => pid > 0 && Stat(pid) is { } stat && stat[3] == session.ToString(System.Globalization.CultureInfo.InvariantCulture) && stat[0] != "Z")
            .ToList();

    private static bool IsZombie(int pid) => Stat(pid)?[0] == "Z";

    private static string[]? Stat(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            return text[(text.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        var waited = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(10), "the process tree did not start");
            await Task.Delay(20);
        }
    }
}
