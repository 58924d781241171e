using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Drivers;

/// <summary>
/// Kind F: when no command can run inside the container (<c>pct exec</c> itself fails), the driver read and the verify
/// job say so with pct's own error, not "device nodes missing" or "no libnvidia-ml": the demo host with a pct whose
/// <c>exec</c> fails.
/// </summary>
public sealed class GuestExecFailureTests
{
    [Fact]
    public async Task TheDriverReadSaysThatCommandsCannotRunInsideWithPctsError()
    {
        using var factory = new GpuLxcApiFactory(DemoWithoutExec());
        var client = factory.CreateGpuLxcClient();

        var driver = await client.GetContainerDriverAsync("101");

        Assert.Equal((ContainerStatus.Running, (string?)null, false), (driver.Status, driver.InstalledVersion, driver.Match));
        var note = Assert.Single(driver.Notes, n => n.StartsWith("Commands cannot run inside container 101", StringComparison.Ordinal));
        Assert.Contains("'pct exec 101 -- cat /etc/os-release' exited with 2: demo pct: unsupported arguments", note, StringComparison.Ordinal);
        Assert.DoesNotContain(driver.Notes, n => n.Contains("No libnvidia-ml", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TheVerifyJobFailsWithTheExecErrorNotWithMissingDeviceNodes()
    {
        using var factory = new GpuLxcApiFactory(DemoWithoutExec());
        var client = factory.CreateGpuLxcClient();
        await DriverLab.AttachAsync(client);

        var job = await DriverLab.WaitAsync(client, (await client.VerifyContainerGpuAsync("101")).Result.Id);

        Assert.Equal(JobState.Failed, job.State);
        Assert.Equal(("commandFailed", "deviceNodes", 2), (job.Error!.Code, job.Error.Step, job.Error.ExitCode));
        Assert.StartsWith("Commands cannot run inside container 101: 'pct exec 101 -- cat /etc/os-release' exited with 2", job.Error.Message, StringComparison.Ordinal);
        Assert.Contains("demo pct: unsupported arguments: exec 101 -- cat /etc/os-release", job.Error.StderrTail, StringComparison.Ordinal);
        Assert.DoesNotContain("Missing in container", job.Error.Message, StringComparison.Ordinal);
        Assert.Contains("pct exec 101 -- cat /etc/os-release", job.Error.Fix, StringComparison.Ordinal);
    }

    /// <summary>The demo host, whose pct answers everything but <c>exec</c>, which fails as an unknown command would.</summary>
    private static HostTree DemoWithoutExec()
    {
        var host = ContainerHosts.Demo(materialized: true);
        File.Move(Path.Join(host.BinDir, "pct"), Path.Join(host.BinDir, "pct-demo"));
        return host.WithCommand("pct", """
            [ "$1" = exec ] && { echo "demo pct: unsupported arguments: $*" >&2; exit 2; }
            exec "$(dirname "$0")/pct-demo" "$@"
            """);
    }
}
