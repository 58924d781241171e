using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Drivers;

/// <summary>
/// The docker guest profile against the stub node: guest commands record their argv (<c>pct exec 101 -- …</c>) and keep
/// the files they write under <c>guest-files/</c>, so a second run sees what the first one left.
/// </summary>
public sealed class DockerProfileTests
{
    private const string DriverMadison = """
         libnvidia-compute-550 | 550.127.05-0ubuntu0.24.04.1 | http://archive.ubuntu.com/ubuntu noble-updates/restricted amd64 Packages
         libnvidia-encode-550 | 550.127.05-0ubuntu0.24.04.1 | http://archive.ubuntu.com/ubuntu noble-updates/restricted amd64 Packages
         libnvidia-decode-550 | 550.127.05-0ubuntu0.24.04.1 | http://archive.ubuntu.com/ubuntu noble-updates/restricted amd64 Packages
         nvidia-utils-550 | 550.127.05-0ubuntu0.24.04.1 | http://archive.ubuntu.com/ubuntu noble-updates/restricted amd64 Packages
        """;

    private static string ToolkitMadison(string version) => string.Join("\n", new[] { "nvidia-container-toolkit", "nvidia-container-toolkit-base", "libnvidia-container-tools", "libnvidia-container1" }
        .Select(p => $" {p} | {version} | https://nvidia.github.io/libnvidia-container/stable/deb/amd64  Packages"));

    private const string Unprivileged = "arch: amd64\ncores: 4\nfeatures: mount=nfs;cifs,nesting=0\nhostname: frigate\nmemory: 4096\nostype: ubuntu\nunprivileged: 1\n\n[before-docker]\narch: amd64\nfeatures: nesting=0\nhostname: frigate\nsnaptime: 1700000000\n";

    /// <summary>A lab whose container 101 runs Ubuntu with Docker <paramref name="docker"/> (null: not installed) and apt offering the toolkit at <paramref name="toolkit"/> (null: no NVIDIA repository).</summary>
    private static DriverLab Lab(string config, string? docker, string? toolkit)
    {
        var lab = new DriverLab();
        lab.Host.WithContainer("101", config, "running");
        var files = Path.Join(lab.Host.BinDir, "guest-files");
        Directory.CreateDirectory(files);
        lab.Guest("cat", $"[ \"$1\" = /etc/os-release ] && {{ printf '%s' '{DriverLab.UbuntuNoble}'; exit 0; }}; [ -f \"{files}$1\" ] && exec /bin/cat \"{files}$1\"; echo \"cat: $1: No such file or directory\" >&2; exit 1")
            .Guest("apt-cache", $"case \"$*\" in *nvidia-container-toolkit*) {(toolkit is null ? ":" : $"cat <<'EOF'\n{ToolkitMadison(toolkit)}\nEOF\n")} ;; *) cat <<'EOF'\n{DriverMadison}\nEOF\n;; esac; exit 0")
            .Guest("apt-get", $"touch \"$(dirname \"$0\")/../installed\"; for a in \"$@\"; do case \"$a\" in nvidia-container-toolkit=*) echo \"${{a#*=}}\" > \"{files}/toolkit\" ;; esac; done")
            .Guest("dpkg-query", $"shift 3; for p in \"$@\"; do case \"$p\" in *container*) [ -f \"{files}/toolkit\" ] && echo \"ii |$p|$(/bin/cat \"{files}/toolkit\")\" ;; *) echo \"ii |$p|550.127.05-0ubuntu0.24.04.1\" ;; esac; done; exit 0")
            .Guest("nvidia-smi", $"[ -f \"$(dirname \"$0\")/../installed\" ] && echo {DriverLab.HostVersion} || exit 9")
            .Guest("docker", docker is null ? "echo 'exec: \"docker\": executable file not found in $PATH' >&2; exit 127" : $"echo {docker}")
            .Guest("nvidia-ctk", $$"""
                f="{{files}}"; spec="cdiVersion: 0.5.0\nkind: nvidia.com/gpu\n# libcuda.so.$(/bin/cat "$f/driver" 2>/dev/null || echo {{DriverLab.HostVersion}})\n"
                case "$1 $2" in
                  "config --set") mkdir -p "$f/etc/nvidia-container-runtime"; printf '[nvidia-container-cli]\nno-cgroups = true\n' > "$f/etc/nvidia-container-runtime/config.toml" ;;
                  "runtime configure") mkdir -p "$f/etc/docker"
                    case "$*" in *--cdi.enabled*) echo '{ "features": { "cdi": true }, "runtimes": { "nvidia": { "path": "nvidia-container-runtime" } } }' ;;
                      *) echo '{ "runtimes": { "nvidia": { "path": "nvidia-container-runtime" } } }' ;; esac > "$f/etc/docker/daemon.json" ;;
                  "cdi generate") case "$3" in --output=*) mkdir -p "$f/etc/cdi"; printf "$spec" > "$f${3#--output=}" ;; *) printf "$spec" ;; esac ;;
                esac
                """);
        return lab;
    }

    private static async Task<Job> InstallAsync(IGpuLxcClient client, bool restart = false) =>
        await DriverLab.WaitAsync(client, (await client.InstallContainerDriverAsync("101",
            new GuestDriverInstallRequest { Profile = GuestInstallProfile.Docker, Restart = restart })).Result.Id);

    private static IEnumerable<string> DockerCommands(DriverLab lab) =>
        lab.Commands.Where(c => c.StartsWith("pct exec", StringComparison.Ordinal) && (c.Contains("docker", StringComparison.Ordinal) || c.Contains("container", StringComparison.Ordinal)
            || c.Contains("nvidia-ctk", StringComparison.Ordinal) || c.Contains("/etc/cdi", StringComparison.Ordinal)));

    [Fact]
    public async Task AnUnprivilegedContainerGetsNestingKeyctlTheToolkitAndCdiAndASecondRunChangesNothing()
    {
        using var lab = Lab(Unprivileged, docker: "27.5.1", toolkit: "1.17.8-1");
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();
        await DriverLab.AttachAsync(client);
        var attached = await File.ReadAllTextAsync(lab.Host.PathOf("/etc/pve/lxc/101.conf"));

        var job = await InstallAsync(client);

        Assert.True(job.State == JobState.Succeeded, job.Error?.Message);
        Assert.Equal(["preflight", "detectOs", "install", "hold", "verify", "features", "docker", "toolkit", "configure", "restart"], job.Steps.Select(s => s.Name));
        // Only the main section's features line changed: nesting=0 became 1, keyctl was inserted in sorted order, mount kept.
        Assert.Equal(attached.Replace("features: mount=nfs;cifs,nesting=0\nhostname: frigate\nmemory", "features: keyctl=1,mount=nfs;cifs,nesting=1\nhostname: frigate\nmemory", StringComparison.Ordinal),
            await File.ReadAllTextAsync(lab.Host.PathOf("/etc/pve/lxc/101.conf")));
        Assert.Contains("[before-docker]\narch: amd64\nfeatures: nesting=0\n", await File.ReadAllTextAsync(lab.Host.PathOf("/etc/pve/lxc/101.conf")), StringComparison.Ordinal);
        const string Pins = "nvidia-container-toolkit=1.17.8-1 nvidia-container-toolkit-base=1.17.8-1 libnvidia-container-tools=1.17.8-1 libnvidia-container1=1.17.8-1";
        Assert.Equal(
        [
            "pct exec 101 -- docker version --format {{.Server.Version}}",
            "pct exec 101 -- dpkg-query -W -f ${db:Status-Abbrev}|${Package}|${Version}\\n nvidia-container-toolkit nvidia-container-toolkit-base libnvidia-container-tools libnvidia-container1",
            "pct exec 101 -- apt-cache madison nvidia-container-toolkit nvidia-container-toolkit-base libnvidia-container-tools libnvidia-container1",
            $"pct exec 101 -- env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {Pins}",
            "pct exec 101 -- dpkg-query -W -f ${db:Status-Abbrev}|${Package}|${Version}\\n nvidia-container-toolkit nvidia-container-toolkit-base libnvidia-container-tools libnvidia-container1",
            "pct exec 101 -- cat /etc/nvidia-container-runtime/config.toml",
            "pct exec 101 -- nvidia-ctk config --set nvidia-container-cli.no-cgroups=true --in-place",
            "pct exec 101 -- cat /etc/docker/daemon.json",
            // Docker 27 has CDI off by default: the runtime configure enables it.
            "pct exec 101 -- nvidia-ctk runtime configure --runtime=docker --cdi.enabled",
            "pct exec 101 -- cat /etc/cdi/nvidia.yaml",
            "pct exec 101 -- nvidia-ctk cdi generate",
            "pct exec 101 -- nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml",
            "pct exec 101 -- systemctl restart docker",
        ], DockerCommands(lab));
        Assert.Equal((true, "keyctl=1,mount=nfs;cifs,nesting=1", "27.5.1", "1.17.8-1", true, false),
            (job.Result!.RestartRequired, job.Result.Docker!.Features, job.Result.Docker.DockerVersion, job.Result.Docker.ToolkitVersion, job.Result.Docker.Cdi, job.Result.Docker.Restarted));
        Assert.Equal(JobStepState.Skipped, job.Steps.Single(s => s.Name == "restart").State);
        Assert.DoesNotContain(lab.Commands, c => c.StartsWith("pct reboot", StringComparison.Ordinal));
        var configured = await File.ReadAllBytesAsync(lab.Host.PathOf("/etc/pve/lxc/101.conf"));
        var before = lab.Commands.Count;

        var second = await InstallAsync(client, restart: true);

        Assert.True(second.State == JobState.Succeeded, second.Error?.Message);
        Assert.Equal(configured, await File.ReadAllBytesAsync(lab.Host.PathOf("/etc/pve/lxc/101.conf")));
        var again = lab.Commands.Skip(before).ToList();
        Assert.DoesNotContain(again, c => c.Contains("nvidia-ctk config", StringComparison.Ordinal) || c.Contains("runtime configure", StringComparison.Ordinal)
            || c.Contains("--output=", StringComparison.Ordinal) || c.Contains("systemctl restart docker", StringComparison.Ordinal)
            || c.Contains("install -y --no-install-recommends nvidia-container", StringComparison.Ordinal) || c.StartsWith("pct reboot", StringComparison.Ordinal));
        Assert.Empty(second.Result!.Docker!.Changed);
        Assert.False(second.Result.RestartRequired);
        Assert.Contains("nothing changed", second.Steps.Single(s => s.Name == "features").Message, StringComparison.Ordinal);
        Assert.Contains("installed already", second.Steps.Single(s => s.Name == "toolkit").Message, StringComparison.Ordinal);
    }

    /// <summary>An earlier run set the features and failed (or was not asked to restart): the restart is still owed.</summary>
    [Fact]
    public async Task AContainerStartedBeforeItsFeaturesWereSetIsStillOwedARestart()
    {
        using var lab = Lab("arch: amd64\nfeatures: keyctl=1,nesting=1\nhostname: frigate\nostype: ubuntu\nunprivileged: 1\n", docker: "28.2.2", toolkit: "1.18.0-1");
        lab.Host.WithFile("/var/lib/lxc/101/config", "lxc.arch = amd64\n");
        File.SetLastWriteTimeUtc(lab.Host.PathOf("/var/lib/lxc/101/config"), DateTime.UtcNow.AddHours(-1));
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();
        await DriverLab.AttachAsync(client);

        var told = await InstallAsync(client);
        var rebootsBefore = File.Exists(lab.Host.PctLog) ? File.ReadAllLines(lab.Host.PctLog).Count(l => l.Contains("reboot 101", StringComparison.Ordinal)) : 0;
        var restarted = await InstallAsync(client, restart: true);
        File.SetLastWriteTimeUtc(lab.Host.PathOf("/var/lib/lxc/101/config"), DateTime.UtcNow.AddMinutes(1));
        var current = await InstallAsync(client);

        Assert.True(told.State == JobState.Succeeded, told.Error?.Message);
        Assert.Equal((true, false, false), (told.Result!.RestartRequired, told.Result.Docker!.FeaturesChanged, told.Result.Docker.Restarted));
        Assert.Equal(0, rebootsBefore);
        Assert.Equal((false, true), (restarted.Result!.RestartRequired, restarted.Result.Docker!.Restarted));
        Assert.Contains("reboot 101", await File.ReadAllTextAsync(lab.Host.PctLog), StringComparison.Ordinal);
        Assert.Equal((false, false), (current.Result!.RestartRequired, current.Result.Docker!.Restarted));
    }

    [Fact]
    public async Task APrivilegedContainerGetsNestingOnlyKeepsItsOtherFeaturesAndIsRestartedWhenAsked()
    {
        using var lab = Lab("arch: amd64\nfeatures: fuse=1,mount=nfs\nhostname: ollama\nostype: debian\n", docker: "28.2.2", toolkit: "1.18.0-1");
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();
        await DriverLab.AttachAsync(client);

        var job = await InstallAsync(client, restart: true);

        Assert.True(job.State == JobState.Succeeded, job.Error?.Message);
        Assert.Contains("\nfeatures: fuse=1,mount=nfs,nesting=1\nhostname: ollama\nostype: debian\n", await File.ReadAllTextAsync(lab.Host.PathOf("/etc/pve/lxc/101.conf")), StringComparison.Ordinal);
        Assert.Contains("reboot 101", await File.ReadAllTextAsync(lab.Host.PctLog), StringComparison.Ordinal);
        Assert.Equal((false, true), (job.Result!.RestartRequired, job.Result.Docker!.Restarted));
        // Docker 28.2 has CDI on by default: the runtime is registered without touching features.cdi; the spec is still generated.
        Assert.Contains("pct exec 101 -- nvidia-ctk runtime configure --runtime=docker", lab.Commands);
        Assert.Contains("pct exec 101 -- nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml", lab.Commands);
    }

    [Fact]
    public async Task DockerBefore25GetsTheNvidiaRuntimeWithNoCgroupsAndNoCdiSpec()
    {
        using var lab = Lab(Unprivileged, docker: "24.0.7", toolkit: "1.17.8-1");
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();
        await DriverLab.AttachAsync(client);

        var job = await InstallAsync(client);

        Assert.True(job.State == JobState.Succeeded, job.Error?.Message);
        Assert.False(job.Result!.Docker!.Cdi);
        Assert.Contains("pct exec 101 -- nvidia-ctk config --set nvidia-container-cli.no-cgroups=true --in-place", lab.Commands);
        Assert.Contains("pct exec 101 -- nvidia-ctk runtime configure --runtime=docker", lab.Commands);
        Assert.DoesNotContain(lab.Commands, c => c.Contains("cdi", StringComparison.Ordinal));
    }

    [Fact]
    public async Task WithoutDockerTheDockerStepFailsWithTheFixAndNothingIsInstalled()
    {
        using var lab = Lab(Unprivileged, docker: null, toolkit: "1.17.8-1");
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();
        await DriverLab.AttachAsync(client);

        var job = await InstallAsync(client);

        Assert.Equal(JobState.Failed, job.State);
        Assert.Equal(("dockerMissing", "docker"), (job.Error!.Code, job.Error.Step));
        Assert.Contains("Install Docker Engine inside container 101", job.Error.Fix, StringComparison.Ordinal);
        Assert.DoesNotContain(lab.Commands, c => c.Contains("nvidia-container-toolkit", StringComparison.Ordinal) || c.Contains("nvidia-ctk", StringComparison.Ordinal));
    }

    [Fact]
    public async Task WithoutNvidiasRepositoryTheToolkitStepNamesTheCommandsThatAddIt()
    {
        using var lab = Lab(Unprivileged, docker: "27.5.1", toolkit: null);
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();
        await DriverLab.AttachAsync(client);

        var job = await InstallAsync(client);

        Assert.Equal(("noCandidate", "toolkit"), (job.Error!.Code, job.Error.Step));
        Assert.Contains("https://nvidia.github.io/libnvidia-container/stable/deb/nvidia-container-toolkit.list", job.Error.Fix, StringComparison.Ordinal);
        Assert.Contains("nvidia-container-toolkit: none", job.Error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(lab.Commands, c => c.Contains("apt-get install -y --no-install-recommends nvidia-container", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AToolkitOlderThanTheCveFixIsRefused()
    {
        using var lab = Lab(Unprivileged, docker: "27.5.1", toolkit: "1.17.7-1");
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();
        await DriverLab.AttachAsync(client);

        var job = await InstallAsync(client);

        Assert.Equal(("toolkitTooOld", "toolkit"), (job.Error!.Code, job.Error.Step));
        Assert.Contains("1.17.7-1, older than 1.17.8", job.Error.Message, StringComparison.Ordinal);
        Assert.Contains("CVE-2025-23266", job.Error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(lab.Commands, c => c.Contains("apt-get install -y --no-install-recommends nvidia-container", StringComparison.Ordinal));
    }

    [Fact]
    public async Task WithUserspaceHostTheDriverIsNotInstalledButDockerIsSetUp()
    {
        using var lab = Lab(Unprivileged, docker: "28.2.2", toolkit: "1.17.8-1");
        lab.Host.WithFile($"/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.{DriverLab.HostVersion}", "stand-in\n").WithFile("/usr/bin/nvidia-smi", "#!/bin/sh\n");
        lab.Guest("nvidia-smi", $"echo {DriverLab.HostVersion}");
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();
        await client.AttachGpuAsync("101", new AttachRequest { Userspace = UserspaceSource.Host, Capabilities = [DriverCapability.Utility] });

        var job = await InstallAsync(client);

        Assert.True(job.State == JobState.Succeeded, job.Error?.Message);
        Assert.Equal([JobStepState.Skipped, JobStepState.Skipped], job.Steps.Where(s => s.Name is "install" or "hold").Select(s => s.State));
        Assert.Equal("host", job.Result!.Method);
        Assert.DoesNotContain(lab.Commands, c => c.Contains("libnvidia-compute", StringComparison.Ordinal));
        Assert.Contains("pct exec 101 -- nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml", lab.Commands);
    }

    [Fact]
    public async Task RestartWithThePlainProfileIsABadRequest()
    {
        using var lab = new DriverLab();
        using var factory = new GpuLxcApiFactory(lab.Host);
        using var http = factory.CreateKeyedClient();

        using var response = await http.PostAsync(new Uri("/api/v1/containers/101/driver/install", UriKind.Relative), GuestDriverJobTests.Json("""{"restart":true}"""));

        Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("restart applies to the docker profile only", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AResyncRegeneratesTheCdiSpecOfAReinstalledContainer()
    {
        using var lab = Lab(Unprivileged, docker: "27.5.1", toolkit: "1.17.8-1");
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();
        await DriverLab.AttachAsync(client);
        Assert.Equal(JobState.Succeeded, (await InstallAsync(client)).State);
        var spec = Path.Join(lab.Host.BinDir, "guest-files", "etc", "cdi", "nvidia.yaml");
        Assert.Contains("libcuda.so.550.127.05", await File.ReadAllTextAsync(spec), StringComparison.Ordinal);
        // The container's driver went stale (an old library loads), and the CDI spec names the old files.
        File.Delete(Path.Join(lab.Host.BinDir, "installed"));
        await File.WriteAllTextAsync(spec, "cdiVersion: 0.5.0\nkind: nvidia.com/gpu\n# libcuda.so.550.120\n");
        lab.GuestDriver("550.120", null);

        var resync = await DriverLab.WaitAsync(client, (await client.ResyncDriversAsync(new DriverResyncRequest())).Result.Id);

        Assert.True(resync.State == JobState.Succeeded, resync.Error?.Message);
        Assert.Contains("libcuda.so.550.127.05", await File.ReadAllTextAsync(spec), StringComparison.Ordinal);
        Assert.Contains("/etc/cdi/nvidia.yaml regenerated", resync.Steps.Single(s => s.Name == "container:101").Message, StringComparison.Ordinal);
    }
}
