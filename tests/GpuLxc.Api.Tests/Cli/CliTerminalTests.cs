using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using GpuLxc.Api.Tests.Deployment;
using GpuLxc.Api.Tests.Drivers;
using GpuLxc.Api.Tests.Support;
using ServiceProcess = GpuLxc.Api.Tests.Support.ServiceProcess;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Cli;

/// <summary>
/// The built <c>gpulxc</c> in a real terminal (tmux) against the service run as a process: what a person sees while
/// a driver install runs, and what Ctrl-C does. The job's <c>driver</c> step waits for a gate file, so the screen is
/// read while the bar is live.
/// </summary>
public sealed class CliTerminalTests
{
    [RequiresToolFact("tmux")]
    public async Task TheProgressBarFollowsTheRunningStepAndTheLogUntilTheJobSucceeds()
    {
        using var lab = new DriverLab();
        var gate = Path.Join(lab.Host.BinDir, "gate");
        lab.Stub("nvidia-detect", $"echo 'Detected NVIDIA GPUs:'; while [ ! -e '{gate}' ]; do sleep 0.1; done; " +
                                  "printf 'It is recommended to install the\\n    nvidia-driver\\npackage.\\n'");
        using var service = await StartAsync(lab);
        using var terminal = new Terminal(RequiresToolFactAttribute.Require("tmux"), Command(service, "driver install host"));

        var live = await terminal.WaitForAsync(screen => screen.Contains("Detected NVIDIA GPUs:", StringComparison.Ordinal) && screen.Contains("✔ ", StringComparison.Ordinal) &&
                                                          screen.Contains("hostDriverInstall host: ", StringComparison.Ordinal));
        File.WriteAllText(gate, "");
        var done = await terminal.WaitForAsync(screen => screen.Contains("EXIT=", StringComparison.Ordinal));
        var job = Assert.Single(await new GpuLxcClient(service.Http).ListJobsAsync());

        Assert.Contains("hostDriverInstall on host: job " + job.Id, live, StringComparison.Ordinal);
        Assert.Contains("━", live, StringComparison.Ordinal);
        Assert.Contains("hostDriverInstall host: " + job.Steps.Single(s => s.Name == "driver").Title, live, StringComparison.Ordinal);
        Assert.Equal(JobState.Succeeded, job.State);
        Assert.Contains($"job {job.Id} succeeded", done, StringComparison.Ordinal);
        Assert.Contains("100%", done, StringComparison.Ordinal);
        Assert.Contains("EXIT=0", done, StringComparison.Ordinal);
        SaveScreen("driver-install", live, done);
    }

    [RequiresToolFact("tmux")]
    public async Task CtrlCAsksWhetherToCancelTheJobAndCancelsItWhenToldTo()
    {
        using var lab = new DriverLab();
        lab.Stub("nvidia-detect", "echo 'Detected NVIDIA GPUs:'; sleep 300");
        using var service = await StartAsync(lab);
        using var terminal = new Terminal(RequiresToolFactAttribute.Require("tmux"), Command(service, "driver install host"));

        await terminal.WaitForAsync(screen => screen.Contains("Detected NVIDIA GPUs:", StringComparison.Ordinal));
        terminal.Send("C-c");
        var asked = await terminal.WaitForAsync(screen => screen.Contains("Cancel the job too?", StringComparison.Ordinal));
        terminal.Send("y");
        terminal.Send("Enter");
        var done = await terminal.WaitForAsync(screen => screen.Contains("EXIT=", StringComparison.Ordinal));
        var job = Assert.Single(await new GpuLxcClient(service.Http).ListJobsAsync());

        Assert.Contains("Stopped following job " + job.Id, asked, StringComparison.Ordinal);
        Assert.Equal(JobState.Cancelled, job.State);
        Assert.Contains($"job {job.Id} cancelled", done, StringComparison.Ordinal);
        Assert.Contains("EXIT=130", done, StringComparison.Ordinal);
    }

    private static async Task<ServiceProcess> StartAsync(DriverLab lab)
    {
        var service = new ServiceProcess(lab.Host, Directory.CreateTempSubdirectory("gpulxc-cli-data-").FullName, FreePort());
        await service.WaitUntilAnsweringAsync();
        return service;
    }

    /// <summary>The shell line tmux runs: gpulxc with the service's URL and key in its environment, then its exit code.</summary>
    private static string Command(ServiceProcess service, string arguments) =>
        $"GPULXC_URL='{service.Http.BaseAddress}' GPULXC_KEY='{TestKeys.Admin}' dotnet '{Path.Join(AppContext.BaseDirectory, "gpulxc.dll")}' {arguments}; " +
        "echo EXIT=$?; sleep 600";

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Keeps the screens for a person to look at (the README's transcript was taken this way).</summary>
    private static void SaveScreen(string name, params string[] screens) =>
        File.WriteAllText(Path.Join(AppContext.BaseDirectory, $"gpulxc-{name}.screen.txt"), string.Join("\n---\n", screens));

    /// <summary>A tmux server of its own (its own socket), one 110x32 window running one shell line.</summary>
    private sealed class Terminal : IDisposable
    {
        private readonly string _tmux;
        private readonly string _socket = $"gpulxc-cli-test-{Guid.NewGuid():N}";

        public Terminal(string tmux, string command)
        {
            _tmux = tmux;
            Run("new-session", "-d", "-s", "cli", "-x", "110", "-y", "32", command);
        }

        public string Screen() => Run("capture-pane", "-p", "-t", "cli");

        public void Send(string key) => Run("send-keys", "-t", "cli", key);

        /// <summary>The screen once <paramref name="shows"/> holds for it; fails with the last screen after 60 s.</summary>
        public async Task<string> WaitForAsync(Func<string, bool> shows)
        {
            var clock = Stopwatch.StartNew();
            var screen = Screen();
            while (!shows(screen))
            {
                if (clock.Elapsed > TimeSpan.FromSeconds(60))
                {
                    throw new TimeoutException("The terminal did not show what was expected within 60 s. Last screen:\n" + screen);
                }

                await Task.Delay(100);
                screen = Screen();
            }

            return screen;
        }

        public void Dispose() => Run("kill-server");

        private string Run(params string[] arguments)
        {
            var start = new ProcessStartInfo(_tmux) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add("-L");
            start.ArgumentList.Add(_socket);
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            start.Environment["TERM"] = "xterm-256color";
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return output;
        }
    }
}
