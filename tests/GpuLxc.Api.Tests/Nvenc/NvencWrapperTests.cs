using System.Diagnostics;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Nvenc;

/// <summary>samples/nvenc/gpulxc-ffmpeg against the running service (on Kestrel), with a fake ffmpeg.</summary>
public sealed class NvencWrapperTests : IDisposable
{
    private const string NvencArgs = "-hwaccel cuda -hwaccel_output_format cuda -i in.mkv -c:v h264_nvenc -preset p1 -rc vbr -b:v 8M -f mp4 out.mp4";
    private static readonly string Wrapper = Path.Join(Repository.Root, "samples", "nvenc", "gpulxc-ffmpeg");

    private readonly string _work = Directory.CreateTempSubdirectory("gpulxc-wrapper-").FullName;
    private readonly GpuLxcApiFactory _factory;
    private readonly string _url;

    public NvencWrapperTests()
    {
        _factory = NvencApiTests.Guarded(limit: 1);
        _factory.UseKestrel(0);
        _factory.StartServer();
        using var http = _factory.CreateClient();
        _url = http.BaseAddress!.ToString().TrimEnd('/');

        // The fake ffmpeg writes its arguments, reports how many leases are active while it runs, and exits as told.
        File.WriteAllText(Path.Join(_work, "ffmpeg"), $$"""
            #!/bin/sh
            printf '%s\n' "$@" > "{{_work}}/args"
            curl -s -H "Authorization: Bearer {{TestKeys.Admin}}" "{{_url}}/api/v1/nvenc" > "{{_work}}/during.json"
            touch "{{_work}}/started"
            trap 'kill $pid 2>/dev/null; exit 143' TERM
            sleep "${FAKE_SLEEP:-0}" & pid=$!
            wait $pid
            exit "${FAKE_EXIT:-0}"
            """);
        File.SetUnixFileMode(Path.Join(_work, "ffmpeg"), (UnixFileMode)0b111_101_101);
    }

    public void Dispose()
    {
        _factory.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public async Task AnNvencEncodeRunsUnderALeaseThatIsReleasedAfterwards()
    {
        var (exit, _) = await RunAsync(NvencArgs, ("FAKE_EXIT", "3"));

        Assert.Equal(3, exit);
        Assert.Contains("\"leases\":1", File.ReadAllText(Path.Join(_work, "during.json")), StringComparison.Ordinal);
        Assert.Contains("h264_nvenc", File.ReadAllText(Path.Join(_work, "args")), StringComparison.Ordinal);
        Assert.Empty((await Client().GetNvencAsync()).Leases);
    }

    [Fact]
    public async Task TheLeaseIsRenewedWhileFfmpegRunsPastItsTtl()
    {
        var run = RunAsync(NvencArgs, ("FAKE_SLEEP", "9"));
        await Task.Delay(TimeSpan.FromSeconds(7.5));

        var during = await Client().GetNvencAsync();
        var (exit, _) = await run;

        var lease = Assert.Single(during.Leases);
        Assert.True(lease.ExpiresAt - lease.CreatedAt > TimeSpan.FromSeconds(6), "the 6 s lease was never renewed");
        Assert.Equal(0, exit);
        Assert.Empty((await Client().GetNvencAsync()).Leases);
    }

    [Fact]
    public async Task AFullBudgetFallsBackToSoftwareEncoding()
    {
        await Client().AcquireLeaseAsync(new LeaseRequest { Holder = "someone else", TtlSeconds = 600 });

        var (exit, stderr) = await RunAsync(NvencArgs);

        var args = File.ReadAllLines(Path.Join(_work, "args"));
        Assert.Equal(0, exit);
        Assert.Contains("encoding in software", stderr, StringComparison.Ordinal);
        Assert.Equal(["-hwaccel", "cuda", "-i", "in.mkv", "-c:v", "libx264", "-preset", "veryfast", "-b:v", "8M", "-f", "mp4", "out.mp4"], args);
    }

    [Fact]
    public async Task AFullBudgetFailsCleanlyWhenAskedTo()
    {
        await Client().AcquireLeaseAsync(new LeaseRequest { Holder = "someone else", TtlSeconds = 600 });

        var (exit, stderr) = await RunAsync(NvencArgs, ("GPULXC_ON_FULL", "fail"));

        Assert.Equal(75, exit);
        Assert.Contains("budget is full", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Join(_work, "args")));
    }

    [Fact]
    public async Task TerminatingTheWrapperStopsFfmpegAndReleasesTheLease()
    {
        var run = RunAsync(NvencArgs, ("FAKE_SLEEP", "30"));
        for (var i = 0; i < 100 && !File.Exists(Path.Join(_work, "started")); i++)
        {
            await Task.Delay(100);
        }

        Assert.Single((await Client().GetNvencAsync()).Leases);
        Process.Start("pkill", ["-TERM", "-f", $"{Wrapper} {NvencArgs.Split(' ')[0]}"])!.WaitForExit();
        var (exit, _) = await run;

        Assert.Equal(143, exit);
        Assert.Empty((await Client().GetNvencAsync()).Leases);
    }

    [Fact]
    public async Task AFullBudgetFailsWhenTheCommandFiltersOnTheGpu()
    {
        await Client().AcquireLeaseAsync(new LeaseRequest { Holder = "someone else", TtlSeconds = 600 });

        var (exit, stderr) = await RunAsync("-hwaccel cuda -i in.mkv -vf scale_cuda=1280:720 -c:v hevc_nvenc -f mp4 out.mp4");

        Assert.Equal(75, exit);
        Assert.Contains("filters on the GPU", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Join(_work, "args")));
    }

    [Fact]
    public async Task AKilledWrapperStopsRenewingAndTheKeyIsOnNoCommandLine()
    {
        var run = RunAsync(NvencArgs, ("FAKE_SLEEP", "31"));
        for (var i = 0; i < 100 && !File.Exists(Path.Join(_work, "started")); i++)
        {
            await Task.Delay(100);
        }

        var commandLines = Directory.GetDirectories("/proc").Select(d => Path.Join(d, "cmdline")).Where(File.Exists)
            .Select(path => { try { return File.ReadAllText(path); } catch (IOException) { return ""; } });
        Assert.DoesNotContain(commandLines, line => line.Contains(TestKeys.Sessions, StringComparison.Ordinal));
        Process.Start("pkill", ["-KILL", "-f", $"{Wrapper} {NvencArgs.Split(' ')[0]}"])!.WaitForExit();
        Process.Start("pkill", ["-KILL", "-f", Path.Join(_work, "ffmpeg")])!.WaitForExit();
        Process.Start("pkill", ["-KILL", "-x", "-f", "sleep 31"])!.WaitForExit();
        await run;
        // The renewer notices within TTL/3 (2 s); the last renewal lapses 6 s after it was made.
        await Task.Delay(TimeSpan.FromSeconds(10));

        Assert.Empty((await Client().GetNvencAsync()).Leases);
    }

    [Fact]
    public async Task AProbeTakesNoLease()
    {
        var (exit, _) = await RunAsync("-hide_banner -version");

        Assert.Equal(0, exit);
        Assert.Equal(["-hide_banner", "-version"], File.ReadAllLines(Path.Join(_work, "args")));
        Assert.DoesNotContain("\"leases\":1", File.ReadAllText(Path.Join(_work, "during.json")), StringComparison.Ordinal);
    }

    private IGpuLxcClient Client() => _factory.CreateGpuLxcClient(TestKeys.Admin);

    private async Task<(int Exit, string StandardError)> RunAsync(string arguments, params (string Name, string Value)[] environment)
    {
        var start = new ProcessStartInfo(Wrapper) { RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var argument in arguments.Split(' '))
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["GPULXC_URL"] = _url;
        start.Environment["GPULXC_KEY"] = TestKeys.Sessions;
        start.Environment["GPULXC_FFMPEG"] = Path.Join(_work, "ffmpeg");
        start.Environment["GPULXC_TTL"] = "6";
        start.Environment["GPULXC_CONFIG"] = "/nonexistent";
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stderr);
    }
}
