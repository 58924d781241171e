using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Drivers;

/// <summary>
/// Kind F: when no command can run inside the container (<c>pct exec</c> itself fails), the driver read and the verify
/// job say so with pct's own error, not "device nodes missing" or "no libnvidia-ml". The demo host's pct knows no
/// <c>exec</c>, as seen there.
/// </summary>
public sealed class GuestExecFailureTests
{
    [Fact]
    public async Task TheDriverReadSaysThatCommandsCannotRunInsideWithPctsError()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Demo(materialized: true));
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
        using var factory = new GpuLxcApiFactory(ContainerHosts.Demo(materialized: true));
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
}
