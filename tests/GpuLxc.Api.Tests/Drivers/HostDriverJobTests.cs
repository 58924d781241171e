using System.Net;
using System.Text.Json;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Drivers;

public sealed class HostDriverJobTests
{
    private static readonly string[] HostTools = ["apt-get", "apt-cache", "nvidia-detect", "update-initramfs", "udevadm", "systemctl", "sh"];

    [Fact]
    public async Task AProxmox8HostInstallRunsEveryStepWithItsExactArgvAndWritesTheBootFiles()
    {
        using var lab = new DriverLab();
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();

        var accepted = (await client.InstallHostDriverAsync(new HostDriverInstallRequest())).Result;
        var job = await DriverLab.WaitAsync(client, accepted.Id);

        Assert.True(job.State == JobState.Succeeded, job.Error?.Message);
        Assert.Equal(
        [
            "apt-get update",
            $"apt-get install -y --no-install-recommends proxmox-default-headers proxmox-headers-{DriverLab.Kernel}",
            "nvidia-detect",
            "apt-get install -y nvidia-driver nvidia-smi nvidia-modprobe",
            "update-initramfs -u -k all",
            "udevadm control --reload-rules",
            "systemctl daemon-reload",
            "systemctl enable gpulxc-nvidia-nodes.service",
        ], lab.Commands.Where(c => HostTools.Contains(c.Split(' ')[0])));
        Assert.Contains((await client.GetJobLogAsync(job.Id)).Lines, l => l.Text == "$ modinfo -F version nvidia");
        Assert.Equal("nvidia\nnvidia_uvm\n", File.ReadAllText(lab.Host.PathOf("/etc/modules-load.d/nvidia.conf")).Split('\n', 2)[1]);
        Assert.Contains("Before=pve-guests.service", File.ReadAllText(lab.Host.PathOf("/etc/systemd/system/gpulxc-nvidia-nodes.service")), StringComparison.Ordinal);
        Assert.Contains("ExecStart=/usr/bin/nvidia-modprobe -c0 -u", File.ReadAllText(lab.Host.PathOf("/etc/systemd/system/gpulxc-nvidia-nodes.service")), StringComparison.Ordinal);
        Assert.Contains("KERNEL==\"nvidia_uvm\", RUN+=\"/usr/bin/nvidia-modprobe -c0 -u\"", File.ReadAllText(lab.Host.PathOf("/etc/udev/rules.d/70-gpulxc-nvidia.rules")), StringComparison.Ordinal);
        Assert.Equal(["preflight", "headers", "driver", "modulesLoad", "initramfs", "deviceNodes", "verify"], job.Steps.Select(s => s.Name));
        Assert.Equal((DriverLab.HostVersion, DriverLab.HostVersion, false), (job.Result!.HostVersion, job.Result.InstalledVersion, job.Result.RebootRequired));
        Assert.Equal("package", job.Result.Method);
    }

    [Fact]
    public async Task ANewerModuleOnDiskThanLoadedMeansARebootAndTheInstallerRunsWithDkms()
    {
        using var lab = new DriverLab();
        lab.Host.WithFile("/opt/nvidia/NVIDIA-Linux-x86_64-570.195.03.run", $"echo \"NVIDIA-Linux-x86_64-570.195.03.run $*\" >> '{lab.Log}'\n");
        lab.Stub("modinfo", "[ \"$2\" = version ] && echo 570.195.03; exit 0");
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();

        var job = await DriverLab.WaitAsync(client, (await client.InstallHostDriverAsync(new HostDriverInstallRequest
        {
            Method = HostInstallMethod.RunInstaller,
            RunInstaller = "/opt/nvidia/NVIDIA-Linux-x86_64-570.195.03.run",
            Version = "570.195.03",
        })).Result.Id);

        Assert.True(job.State == JobState.Succeeded, job.Error?.Message);
        Assert.Contains($"apt-get install -y --no-install-recommends proxmox-default-headers proxmox-headers-{DriverLab.Kernel} dkms", lab.Commands);
        Assert.Contains("NVIDIA-Linux-x86_64-570.195.03.run --dkms --silent", lab.Commands);
        Assert.DoesNotContain("nvidia-detect", lab.Commands);
        Assert.Equal(("550.127.05", "570.195.03", true), (job.Result!.HostVersion, job.Result.InstalledVersion, job.Result.RebootRequired));
        Assert.Contains("reboot the host", job.Steps.Single(s => s.Name == "verify").Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFailedCommandSurfacesItsExitCodeAndStderrTailAndStopsTheJob()
    {
        using var lab = new DriverLab();
        lab.Stub("apt-get", """
            [ "$1" = install ] || exit 0
            echo "Reading package lists..."
            echo "E: Unable to locate package proxmox-headers-6.8.12-4-pve" >&2
            echo "E: Couldn't find any package by glob 'proxmox-headers-6.8.12-4-pve'" >&2
            exit 100
            """);
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();

        var job = await DriverLab.WaitAsync(client, (await client.InstallHostDriverAsync(new HostDriverInstallRequest())).Result.Id);
        var log = await client.GetJobLogAsync(job.Id);

        Assert.Equal(JobState.Failed, job.State);
        Assert.Equal(("commandFailed", "headers", 100), (job.Error!.Code, job.Error.Step, job.Error.ExitCode));
        Assert.Equal($"apt-get install -y --no-install-recommends proxmox-default-headers proxmox-headers-{DriverLab.Kernel}", job.Error.Command);
        Assert.Equal("E: Unable to locate package proxmox-headers-6.8.12-4-pve\nE: Couldn't find any package by glob 'proxmox-headers-6.8.12-4-pve'", job.Error.StderrTail);
        Assert.StartsWith("'apt-get install", job.Error.Message, StringComparison.Ordinal);
        Assert.Equal(JobStepState.Failed, job.Steps.Single(s => s.Name == "headers").State);
        Assert.All(job.Steps.SkipWhile(s => s.Name != "driver"), s => Assert.Equal(JobStepState.Pending, s.State));
        Assert.DoesNotContain(lab.Commands, c => c.StartsWith("nvidia-detect", StringComparison.Ordinal) || c.StartsWith("update-initramfs", StringComparison.Ordinal));
        Assert.Contains(log.Lines, l => l.Stream == "stderr" && l.Text == "E: Unable to locate package proxmox-headers-6.8.12-4-pve");
        Assert.Contains(log.Lines, l => l.Stream == "job" && l.Text == $"$ apt-get install -y --no-install-recommends proxmox-default-headers proxmox-headers-{DriverLab.Kernel}");
    }

    [Fact]
    public async Task CancellingKillsTheHungCommandsProcessTreeAndTheJobEndsCancelled()
    {
        using var lab = new DriverLab();
        var pidFile = lab.Hang("update-initramfs");
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();
        var job = (await client.InstallHostDriverAsync(new HostDriverInstallRequest())).Result;
        await DriverLab.WaitForStepAsync(client, job.Id, "initramfs");
        var sleeper = await DriverLab.WaitForPidAsync(pidFile);
        Assert.True(DriverLab.IsAlive(sleeper));

        var cancelled = await client.CancelJobAsync(job.Id);

        Assert.Equal(JobState.Cancelled, cancelled.State);
        Assert.Equal("cancelled", cancelled.Error!.Code);
        Assert.Equal(JobStepState.Cancelled, cancelled.Steps.Single(s => s.Name == "initramfs").State);
        Assert.Equal(JobStepState.Pending, cancelled.Steps.Single(s => s.Name == "deviceNodes").State);
        Assert.True(await DriverLab.EndsAsync(sleeper), "the hung command's child survived the cancellation");
        Assert.DoesNotContain(lab.Commands, c => c.StartsWith("udevadm", StringComparison.Ordinal));
        Assert.Equal(JobState.Cancelled, (await client.CancelJobAsync(job.Id)).State);
    }

    [Fact]
    public async Task ASecondJobOnABusyTargetIs409NamingTheRunningJobWhileOtherTargetsProceed()
    {
        using var lab = new DriverLab();
        lab.Hang("update-initramfs");
        lab.GuestDriver(DriverLab.HostVersion, DriverLab.HostVersion);
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();
        using var http = factory.CreateKeyedClient();
        await DriverLab.AttachAsync(client);
        var running = (await client.InstallHostDriverAsync(new HostDriverInstallRequest())).Result;
        await DriverLab.WaitForStepAsync(client, running.Id, "initramfs");

        using var second = await http.PostAsync(new Uri("/api/v1/host/driver/install", UriKind.Relative), GuestDriverJobTests.Json("{}"));
        using var resync = await http.PostAsync(new Uri("/api/v1/host/driver/resync", UriKind.Relative), GuestDriverJobTests.Json("{}"));
        var verify = await DriverLab.WaitAsync(client, (await client.VerifyContainerGpuAsync("101")).Result.Id);
        using var verifyAgain = await http.PostAsync(new Uri("/api/v1/containers/101/gpu/verify", UriKind.Relative), null);

        Assert.Equal(HttpStatusCode.Conflict, second.StatusCode);
        Assert.Equal($"/api/v1/jobs/{running.Id}", second.Headers.Location!.OriginalString);
        Assert.Equal(running.Id, JsonDocument.Parse(await second.Content.ReadAsStringAsync()).RootElement.GetProperty("jobId").GetString());
        Assert.Equal(HttpStatusCode.Conflict, resync.StatusCode);
        Assert.Equal(JobState.Succeeded, verify.State);
        Assert.Equal(HttpStatusCode.Accepted, verifyAgain.StatusCode);
        Assert.Single(lab.Commands, c => c.StartsWith("update-initramfs", StringComparison.Ordinal));
        await client.CancelJobAsync(running.Id);
    }

    [Fact]
    public async Task AJobInterruptedByARestartEndsInterruptedAndIsNotRunAgain()
    {
        using var lab = new DriverLab();
        var pidFile = lab.Hang("update-initramfs");
        var data = Directory.CreateTempSubdirectory("gpulxc-restart-").FullName;
        try
        {
            string jobId;
            int sleeper;
            using (var first = new GpuLxcApiFactory(lab.Host, ownsHost: false))
            {
                first.Settings["GpuLxc:DataDir"] = data;
                var client = first.CreateGpuLxcClient();
                jobId = (await client.InstallHostDriverAsync(new HostDriverInstallRequest())).Result.Id;
                await DriverLab.WaitForStepAsync(client, jobId, "initramfs");
                sleeper = await DriverLab.WaitForPidAsync(pidFile);
            }

            using var second = new GpuLxcApiFactory(lab.Host, ownsHost: false);
            second.Settings["GpuLxc:DataDir"] = data;
            var again = second.CreateGpuLxcClient();
            var job = await again.GetJobAsync(jobId);
            await Task.Delay(500);

            Assert.Equal(JobState.Failed, job.State);
            Assert.Equal("interrupted", job.Error!.Code);
            Assert.Equal("initramfs", job.Error.Step);
            Assert.NotNull(job.FinishedAt);
            Assert.True(await DriverLab.EndsAsync(sleeper));
            Assert.Single(lab.Commands, c => c.StartsWith("update-initramfs", StringComparison.Ordinal));
            Assert.Equal(JobState.Failed, (await again.GetJobAsync(jobId)).State);
        }
        finally
        {
            HostTree.DeleteDirectory(data);
        }
    }

    [Fact]
    public async Task ARunningRecordLeftByADeadProcessIsMarkedInterruptedAtStart()
    {
        using var lab = new DriverLab();
        var data = Directory.CreateTempSubdirectory("gpulxc-crash-").FullName;
        try
        {
            string jobId;
            using (var first = new GpuLxcApiFactory(lab.Host, ownsHost: false))
            {
                first.Settings["GpuLxc:DataDir"] = data;
                var client = first.CreateGpuLxcClient();
                jobId = (await DriverLab.WaitAsync(client, (await client.InstallHostDriverAsync(new HostDriverInstallRequest())).Result.Id)).Id;
            }

            // What a crash (kill -9, power loss) leaves: the record still says running, claimed by a process that is gone.
            await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Join(data, "gpulxc.db")};Pooling=false"))
            {
                await connection.OpenAsync();
                await using var command = connection.CreateCommand();
                command.CommandText = "UPDATE job SET state = 'running', finished_at = NULL, error = NULL, runner = 'gone' WHERE id = $id";
                command.Parameters.AddWithValue("$id", jobId);
                await command.ExecuteNonQueryAsync();
            }

            using var second = new GpuLxcApiFactory(lab.Host, ownsHost: false);
            second.Settings["GpuLxc:DataDir"] = data;
            var job = await second.CreateGpuLxcClient().GetJobAsync(jobId);

            Assert.Equal((JobState.Failed, "interrupted"), (job.State, job.Error!.Code));
        }
        finally
        {
            HostTree.DeleteDirectory(data);
        }
    }

    [Fact]
    public async Task TheLogIsReadableWhileTheJobRunsAndAfterGivesOnlyNewLines()
    {
        using var lab = new DriverLab();
        var pidFile = lab.Hang("update-initramfs");
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();
        var job = (await client.InstallHostDriverAsync(new HostDriverInstallRequest())).Result;
        await DriverLab.WaitForStepAsync(client, job.Id, "initramfs");
        await DriverLab.WaitForPidAsync(pidFile);
        await Task.Delay(300);

        var during = await client.GetJobLogAsync(job.Id);
        var polled = await client.GetJobAsync(job.Id, waitSeconds: 1);
        await client.CancelJobAsync(job.Id);
        var rest = await client.GetJobLogAsync(job.Id, after: during.Next);

        Assert.Equal(JobState.Running, during.State);
        Assert.Equal(JobState.Running, polled.State);
        Assert.Contains(during.Lines, l => l.Text == "$ update-initramfs -u -k all");
        Assert.Equal(Enumerable.Range(1, during.Lines.Count), during.Lines.Select(l => l.Line));
        Assert.All(rest.Lines, l => Assert.True(l.Line > during.Next));
        Assert.Contains(rest.Lines, l => l.Text == "step initramfs: cancelled");
        Assert.Equal(JobState.Cancelled, rest.State);
    }

    [Fact]
    public async Task JobsAreListedNewestFirstAndFilteredByStateKindAndTarget()
    {
        using var lab = new DriverLab();
        lab.GuestDriver(DriverLab.HostVersion, DriverLab.HostVersion);
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();
        await DriverLab.AttachAsync(client);
        var host = await DriverLab.WaitAsync(client, (await client.InstallHostDriverAsync(new HostDriverInstallRequest())).Result.Id);
        var verify = await DriverLab.WaitAsync(client, (await client.VerifyContainerGpuAsync("101")).Result.Id);

        Assert.Equal([verify.Id, host.Id], (await client.ListJobsAsync()).Select(j => j.Id));
        Assert.Equal([verify.Id], (await client.ListJobsAsync(target: "101")).Select(j => j.Id));
        Assert.Equal([host.Id], (await client.ListJobsAsync(kind: JobKind.HostDriverInstall, state: JobState.Succeeded)).Select(j => j.Id));
        Assert.Empty(await client.ListJobsAsync(state: JobState.Running));
    }
}
