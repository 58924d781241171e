using System.Net;
using System.Text.Json;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Drivers;

public sealed class GuestDriverJobTests
{
    private const string Madison = """
         libnvidia-compute-550 | 550.127.05-0ubuntu0.24.04.1 | http://archive.ubuntu.com/ubuntu noble-updates/restricted amd64 Packages
         libnvidia-compute-550 | 550.120-0ubuntu0.24.04.1 | http://archive.ubuntu.com/ubuntu noble-security/restricted amd64 Packages
         libnvidia-encode-550 | 550.127.05-0ubuntu0.24.04.1 | http://archive.ubuntu.com/ubuntu noble-updates/restricted amd64 Packages
         libnvidia-decode-550 | 550.127.05-0ubuntu0.24.04.1 | http://archive.ubuntu.com/ubuntu noble-updates/restricted amd64 Packages
         nvidia-utils-550 | 550.127.05-0ubuntu0.24.04.1 | http://archive.ubuntu.com/ubuntu noble-updates/restricted amd64 Packages
         nvidia-utils-550 | 550.120-0ubuntu0.24.04.1 | http://archive.ubuntu.com/ubuntu noble-security/restricted amd64 Packages
        """;

    /// <summary>The fixed script that writes a file GpuLxc owns inside a container from its arguments.</summary>
    private const string Write = "f=$1; shift; umask 022 && mkdir -p \"${f%/*}\" && : > \"$f.gpulxc-new\" && { [ $# -eq 0 ] || printf '%s\\n' \"$@\" > \"$f.gpulxc-new\"; } && mv -f \"$f.gpulxc-new\" \"$f\"";

    [Fact]
    public async Task AnUbuntuContainerGetsExactlyTheHostsVersionFromAptHeldAndVerified()
    {
        using var lab = new DriverLab();
        lab.Guest("apt-cache", $"[ \"$1\" = madison ] && cat <<'EOF'\n{Madison}\nEOF\nexit 0").Guest("apt-get", "touch \"$(dirname \"$0\")/../installed\"")
            .Guest("dpkg-query", "shift 3; for p in \"$@\"; do echo \"ii |$p|550.127.05-0ubuntu0.24.04.1\"; done")
            .Guest("nvidia-smi", $"[ -f \"$(dirname \"$0\")/../installed\" ] && echo {DriverLab.HostVersion} || exit 9");
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();
        await DriverLab.AttachAsync(client);

        var accepted = (await client.InstallContainerDriverAsync("101", new GuestDriverInstallRequest())).Result;
        var job = await DriverLab.WaitAsync(client, accepted.Id);

        Assert.True(job.State == JobState.Succeeded, job.Error?.Message);
        const string Pins = "libnvidia-compute-550=550.127.05-0ubuntu0.24.04.1 libnvidia-encode-550=550.127.05-0ubuntu0.24.04.1 " +
                            "libnvidia-decode-550=550.127.05-0ubuntu0.24.04.1 nvidia-utils-550=550.127.05-0ubuntu0.24.04.1";
        Assert.Equal(
        [
            "pct exec 101 -- cat /etc/os-release",
            "pct exec 101 -- cat /etc/os-release",
            "pct exec 101 -- env DEBIAN_FRONTEND=noninteractive apt-get update",
            "pct exec 101 -- apt-cache madison libnvidia-compute-550 libnvidia-encode-550 libnvidia-decode-550 nvidia-utils-550 " +
            "libnvidia-compute-550-server libnvidia-encode-550-server libnvidia-decode-550-server nvidia-utils-550-server",
            $"pct exec 101 -- apt-cache show {Pins}",
            // apt-cache show named no source package: each binary is pinned by name.
            $"pct exec 101 -- sh -c {Write} sh /etc/apt/preferences.d/gpulxc-nvidia " + string.Join(" ", Pins.Split(' ').Order(StringComparer.Ordinal).Select((pin, i) =>
                $"{(i > 0 ? " " : "")}Explanation: Written by GpuLxc: the host's NVIDIA kernel module is 550.127.05; its userspace driver stays at exactly that version. " +
                $"Package: {pin.Split('=')[0]} Pin: version {pin.Split('=')[1]} Pin-Priority: 1001")),
            "pct exec 101 -- cat /var/lib/gpulxc/apt-holds",
            $"pct exec 101 -- env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends --allow-downgrades --allow-change-held-packages {Pins}",
            "pct exec 101 -- dpkg-query -W -f ${db:Status-Abbrev}|${Package}|${Version}\\n libnvidia-compute-550 libnvidia-encode-550 libnvidia-decode-550 nvidia-utils-550",
            "pct exec 101 -- apt-mark showhold",
            "pct exec 101 -- cat /var/lib/gpulxc/apt-holds",
            "pct exec 101 -- apt-mark hold libnvidia-compute-550 libnvidia-encode-550 libnvidia-decode-550 nvidia-utils-550",
            $"pct exec 101 -- sh -c {Write} sh /var/lib/gpulxc/apt-holds libnvidia-compute-550 libnvidia-decode-550 libnvidia-encode-550 nvidia-utils-550",
            "pct exec 101 -- nvidia-smi --query-gpu=driver_version --format=csv,noheader",
        ], lab.Commands.Where(c => c.StartsWith("pct exec", StringComparison.Ordinal)));
        Assert.Equal(["preflight", "detectOs", "install", "hold", "verify"], job.Steps.Select(s => s.Name));
        Assert.All(job.Steps, s => Assert.Equal(JobStepState.Succeeded, s.State));
        Assert.Equal(100, job.Progress);
        Assert.Equal((DriverLab.HostVersion, DriverLab.HostVersion, "apt", true), (job.Result!.HostVersion, job.Result.InstalledVersion, job.Result.Method, job.Result.Match));
        Assert.Equal(Pins.Split(' '), job.Result.Packages);
        Assert.Equal("admin", job.RequestedBy);
    }

    [Fact]
    public async Task WithoutAnExactCandidateTheJobFailsNamingTheVersionsFoundAndInstallsNothing()
    {
        using var lab = new DriverLab();
        lab.Guest("apt-cache", """
            echo ' libnvidia-compute-550 | 550.120-0ubuntu0.24.04.1 | http://archive.ubuntu.com/ubuntu noble-updates/restricted amd64 Packages'
            echo ' nvidia-utils-550 | 550.120-0ubuntu0.24.04.1 | http://archive.ubuntu.com/ubuntu noble-updates/restricted amd64 Packages'
            """);
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();
        await DriverLab.AttachAsync(client);

        var job = await DriverLab.WaitAsync(client, (await client.InstallContainerDriverAsync("101", new GuestDriverInstallRequest { Method = GuestInstallMethod.Apt })).Result.Id);

        Assert.Equal(JobState.Failed, job.State);
        Assert.Equal(("noExactVersion", "install"), (job.Error!.Code, job.Error.Step));
        Assert.Contains("libnvidia-compute-550: 550.120-0ubuntu0.24.04.1", job.Error.Message, StringComparison.Ordinal);
        Assert.Contains("libnvidia-encode-550: none", job.Error.Message, StringComparison.Ordinal);
        Assert.Contains("NVIDIA-Linux-x86_64-550.127.05.run", job.Error.Fix, StringComparison.Ordinal);
        Assert.DoesNotContain(lab.Commands, c => c.Contains("apt-get install", StringComparison.Ordinal));
        Assert.Equal(JobStepState.Failed, job.Steps.Single(s => s.Name == "install").State);
        Assert.Equal(JobStepState.Pending, job.Steps.Single(s => s.Name == "verify").State);
    }

    [Fact]
    public async Task TheRunInstallerIsCopiedInAndRunWithoutKernelModules()
    {
        using var lab = new DriverLab();
        lab.Host.WithFile("/root/NVIDIA-Linux-x86_64-550.127.05.run", "#!/bin/sh\necho installer\n");
        lab.Guest("sh", "touch \"$(dirname \"$0\")/../installed\"")
            .Guest("nvidia-smi", $"[ -f \"$(dirname \"$0\")/../installed\" ] && echo {DriverLab.HostVersion} || exit 9")
            .Guest("cat", $"printf '%s' 'NAME=\"Fedora Linux\"\nID=fedora\nVERSION_ID=40\n'");
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();
        await DriverLab.AttachAsync(client);

        var job = await DriverLab.WaitAsync(client, (await client.InstallContainerDriverAsync("101",
            new GuestDriverInstallRequest { RunInstaller = "/root/NVIDIA-Linux-x86_64-550.127.05.run" })).Result.Id);

        Assert.True(job.State == JobState.Succeeded, job.Error?.Message);
        Assert.Equal(
        [
            $"pct push 101 {lab.Host.PathOf("/root/NVIDIA-Linux-x86_64-550.127.05.run")} /tmp/gpulxc-NVIDIA-Linux-x86_64-550.127.05.run",
            "pct exec 101 -- sh /tmp/gpulxc-NVIDIA-Linux-x86_64-550.127.05.run --no-kernel-modules --silent",
            "pct exec 101 -- rm -f /tmp/gpulxc-NVIDIA-Linux-x86_64-550.127.05.run",
            "pct exec 101 -- nvidia-smi --query-gpu=driver_version --format=csv,noheader",
        ], lab.Commands.Where(c => c.StartsWith("pct push", StringComparison.Ordinal) || (c.StartsWith("pct exec", StringComparison.Ordinal) && !c.Contains("os-release", StringComparison.Ordinal))));
        Assert.Equal("runInstaller", job.Result!.Method);
        Assert.Equal(JobStepState.Skipped, job.Steps.Single(s => s.Name == "hold").State);
        Assert.True(File.Exists(Path.Join(lab.Host.BinDir, "pushed", "gpulxc-NVIDIA-Linux-x86_64-550.127.05.run")));
    }

    [Fact]
    public async Task AContainerGetsTheInstallerThatAHostInstallRecordedByThePreviousVersionUsed()
    {
        const string Installer = "/root/NVIDIA-Linux-x86_64-550.127.05.run";
        using var lab = new DriverLab();
        lab.Host.WithFile(Installer, "#!/bin/sh\necho installer\n");
        lab.Guest("sh", "touch \"$(dirname \"$0\")/../installed\"")
            .Guest("nvidia-smi", $"[ -f \"$(dirname \"$0\")/../installed\" ] && echo {DriverLab.HostVersion} || exit 9");
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();
        await DriverLab.AttachAsync(client);
        // The previous version stored a job's parameters as a JSON object of strings, nulls left out.
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Join(factory.DataDir, "gpulxc.db")};Pooling=false"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = """
                INSERT INTO job (id, kind, target, state, parameters, requested_by, created_at, started_at, finished_at, steps, cancel_requested, error, result, log_count)
                VALUES ('0190a0b0c0d0e0f00000000000000001', 'hostDriverInstall', 'host', 'succeeded', $parameters, 'admin', 1, 2, 3, '[]', 0, NULL, NULL, 0)
                """;
            command.Parameters.AddWithValue("$parameters", $$"""{"method":"runInstaller","runInstaller":"{{Installer}}"}""");
            await command.ExecuteNonQueryAsync();
        }

        var stored = Assert.Single(await client.ListJobsAsync(kind: JobKind.HostDriverInstall));
        var job = await DriverLab.WaitAsync(client, (await client.InstallContainerDriverAsync("101",
            new GuestDriverInstallRequest { Method = GuestInstallMethod.RunInstaller })).Result.Id);

        Assert.Equal(["method=runInstaller", $"runInstaller={Installer}"], stored.Parameters.Select(p => $"{p.Key}={p.Value}").Order(StringComparer.Ordinal));
        Assert.True(job.State == JobState.Succeeded, job.Error?.Message);
        Assert.Equal(["method=runInstaller", "profile=plain", "restart=false"], job.Parameters.Select(p => $"{p.Key}={p.Value}"));
        Assert.Contains($"pct push 101 {lab.Host.PathOf(Installer)} /tmp/gpulxc-NVIDIA-Linux-x86_64-550.127.05.run", lab.Commands);
    }

    [Fact]
    public async Task AMismatchInsideTheContainerIsSpelledOut()
    {
        using var lab = new DriverLab();
        lab.GuestDriver("550.120", null)
            .Guest("nvidia-smi", "echo 'Failed to initialize NVML: Driver/library version mismatch'; echo 'NVML library version: 550.120'; exit 18");
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();
        await DriverLab.AttachAsync(client);

        var job = await DriverLab.WaitAsync(client, (await client.VerifyContainerGpuAsync("101")).Result.Id);
        var driver = await client.GetContainerDriverAsync("101");

        Assert.Equal(JobState.Failed, job.State);
        Assert.Equal(("versionMismatch", "nvidiaSmi", 18), (job.Error!.Code, job.Error.Step, job.Error.ExitCode));
        Assert.Contains("Driver/library version mismatch", job.Error.Message, StringComparison.Ordinal);
        Assert.Contains("the container has libnvidia-ml 550.120, the host's kernel module is 550.127.05", job.Error.Message, StringComparison.Ordinal);
        Assert.Equal(("550.127.05", "550.120", false), (driver.HostVersion, driver.InstalledVersion, driver.Match));
    }

    [Theory]
    [InlineData("alpine", "Alpine containers cannot run NVIDIA's userspace driver.")]
    [InlineData("stopped", "The container is not running.")]
    [InlineData("detached", "No GPU is attached to the container.")]
    public async Task PreconditionsAreA409WithTheFixAndStartNoJob(string situation, string title)
    {
        using var lab = new DriverLab();
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();
        if (situation != "detached")
        {
            await DriverLab.AttachAsync(client);
        }

        if (situation == "alpine")
        {
            lab.Guest("cat", $"printf '%s' '{DriverLab.Alpine}'");
        }

        if (situation == "stopped")
        {
            lab.Host.SetStatus("101", "stopped");
        }

        using var http = factory.CreateKeyedClient();
        using var response = await http.PostAsync(new Uri("/api/v1/containers/101/driver/install", UriKind.Relative), Json("{}"));
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal(title, problem.GetProperty("title").GetString());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("fix").GetString()));
        Assert.Empty(await client.ListJobsAsync());
        Assert.DoesNotContain(lab.Commands, c => c.Contains("apt", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TheDriverReadShowsTheInstalledVersionAndTheMethodThatInstalledIt()
    {
        using var lab = new DriverLab();
        lab.GuestDriver(DriverLab.HostVersion, DriverLab.HostVersion);
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();
        await DriverLab.AttachAsync(client);

        var driver = await client.GetContainerDriverAsync("101");

        Assert.Equal((ContainerStatus.Running, DriverLab.HostVersion, DriverLab.HostVersion, true), (driver.Status, driver.HostVersion, driver.InstalledVersion, driver.Match));
        Assert.Equal("ubuntu", driver.Os!.Id);
        Assert.Null(driver.Method);
    }

    internal static StringContent Json(string body) => new(body, System.Text.Encoding.UTF8, "application/json");
}
