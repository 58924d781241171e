using GpuLxc.Api.Tests.Cli;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Drivers;

/// <summary>
/// Issue 20: the driver view, verify and the diagnostics audit an NVIDIA Container Toolkit that is already installed
/// inside a container. The demo Proxmox node (<see cref="DriverLab"/>) with the guest's dpkg, dockerd and docker
/// stubbed, and its files served by a <c>cat</c> that reads them from a guest root beside the stubs.
/// </summary>
public sealed class ToolkitAuditTests
{
    private const string NoCgroupsTrue = "[nvidia-container-cli]\nno-cgroups = true\nldconfig = \"@/sbin/ldconfig.real\"\n\n[nvidia-container-runtime]\nmode = \"auto\"\n";
    private const string DefaultsConfig = "[nvidia-container-cli]\n#no-cgroups = false\nldconfig = \"@/sbin/ldconfig.real\"\n\n[nvidia-container-runtime]\nmode = \"auto\"\n";
    private const string NvidiaRuntime = """{ "runtimes": { "nvidia": { "args": [], "path": "nvidia-container-runtime" } } }""";
    private const string Gpu = "GPU 0: NVIDIA GeForce RTX 3060 (UUID: GPU-8c2b1f3e-6a4d-4e0b-9f1c-2d3e4f5a6b7c)";

    [Fact]
    public async Task TheDriverViewNamesTheBpfErrorWhenNoCgroupsIsLeftAtItsDefault()
    {
        using var lab = Lab(files: new() { ["/etc/nvidia-container-runtime/config.toml"] = DefaultsConfig, ["/etc/docker/daemon.json"] = NvidiaRuntime });
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();

        var toolkit = (await client.GetContainerDriverAsync("101")).Toolkit;

        Assert.Equal((true, "1.17.8-1", "28.2.2", "auto", false, true), (toolkit.Installed, toolkit.Version, toolkit.DockerVersion, toolkit.RuntimeMode, toolkit.NoCgroups, toolkit.DockerNvidiaRuntime));
        Assert.Equal((await client.GetContainerAsync("101")).Unprivileged, toolkit.Unprivileged);
        var finding = Assert.Single(toolkit.Findings);
        Assert.Equal(("cgroupsInLxc", ToolkitFindingSeverity.Error), (finding.Code, finding.Severity));
        Assert.Contains("`bpf_prog_query(BPF_CGROUP_DEVICE) failed: operation not permitted`", finding.Message, StringComparison.Ordinal);
        Assert.Equal("nvidia-ctk config --set nvidia-container-cli.no-cgroups=true --in-place, then systemctl restart docker", finding.Fix);
    }

    [Fact]
    public async Task AContainerWithoutTheToolkitReportsItAbsentWithNoFindings()
    {
        using var lab = Lab(toolkit: null);
        using var factory = new GpuLxcApiFactory(lab.Host);

        var toolkit = (await factory.CreateGpuLxcClient().GetContainerDriverAsync("101")).Toolkit;

        Assert.Equal((false, (string?)null, "28.2.2", (string?)null), (toolkit.Installed, toolkit.Version, toolkit.DockerVersion, toolkit.NotChecked));
        Assert.Empty(toolkit.Findings);
        Assert.Contains("pct exec 101 -- nvidia-ctk --version", lab.Commands);
        Assert.DoesNotContain(lab.Commands, c => c.Contains("config.toml", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AStoppedContainersToolkitIsNotCheckedAndTheViewStillAnswers()
    {
        using var lab = Lab();
        using var factory = new GpuLxcApiFactory(lab.Host);

        var toolkit = (await factory.CreateGpuLxcClient().GetContainerDriverAsync("102")).Toolkit;

        Assert.Equal(("container stopped", (bool?)null), (toolkit.NotChecked, toolkit.Installed));
        Assert.Empty(toolkit.Findings);
        Assert.DoesNotContain(lab.Commands, c => c.StartsWith("pct exec 102", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnUnparsableConfigTomlIsAFindingNotAServerError()
    {
        using var lab = Lab(files: new() { ["/etc/nvidia-container-runtime/config.toml"] = "[nvidia-container-cli\nno-cgroups = true\n", ["/etc/docker/daemon.json"] = NvidiaRuntime });
        using var factory = new GpuLxcApiFactory(lab.Host);

        var toolkit = (await factory.CreateGpuLxcClient().GetContainerDriverAsync("101")).Toolkit;

        var finding = Assert.Single(toolkit.Findings);
        Assert.Equal(("unparsableConfig", ToolkitFindingSeverity.Error), (finding.Code, finding.Severity));
        Assert.StartsWith("/etc/nvidia-container-runtime/config.toml does not parse (", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ACdiSpecForAnotherDriverIsStaleWithTheCommandThatRegeneratesIt()
    {
        using var lab = Lab(files: new()
        {
            ["/etc/nvidia-container-runtime/config.toml"] = NoCgroupsTrue,
            ["/etc/cdi/nvidia.yaml"] = ToolkitFilesFacts.SpecFor550.Replace("550.127.05", "550.120", StringComparison.Ordinal),
        });
        using var factory = new GpuLxcApiFactory(lab.Host);

        var toolkit = (await factory.CreateGpuLxcClient().GetContainerDriverAsync("101")).Toolkit;

        Assert.Equal(("/etc/cdi/nvidia.yaml", "550.120", (bool?)true), (toolkit.CdiSpec!.Path, toolkit.CdiSpec.DriverVersion, toolkit.CdiSpec.Stale));
        var finding = Assert.Single(toolkit.Findings);
        Assert.Equal(("staleCdiSpec", ToolkitFindingSeverity.Error, "nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml"), (finding.Code, finding.Severity, finding.Fix));
        Assert.Contains("550.127.05", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AToolkitOlderThanTheCveFixIsWarnedWithTheUpgrade()
    {
        using var lab = Lab(toolkit: "1.17.3-1", files: new() { ["/etc/nvidia-container-runtime/config.toml"] = NoCgroupsTrue, ["/etc/docker/daemon.json"] = NvidiaRuntime });
        using var factory = new GpuLxcApiFactory(lab.Host);

        var finding = Assert.Single((await factory.CreateGpuLxcClient().GetContainerDriverAsync("101")).Toolkit.Findings);

        Assert.Equal(("vulnerableToolkit", ToolkitFindingSeverity.Warning), (finding.Code, finding.Severity));
        Assert.Contains("CVE-2025-23266", finding.Message, StringComparison.Ordinal);
        Assert.Contains("apt-get install --only-upgrade nvidia-container-toolkit", finding.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DockerWithNeitherTheNvidiaRuntimeNorACdiSpecIsWarned()
    {
        using var lab = Lab(files: new() { ["/etc/nvidia-container-runtime/config.toml"] = NoCgroupsTrue, ["/etc/docker/daemon.json"] = "{}" });
        using var factory = new GpuLxcApiFactory(lab.Host);

        var toolkit = (await factory.CreateGpuLxcClient().GetContainerDriverAsync("101")).Toolkit;

        Assert.Equal((false, (bool?)true, (CdiSpec?)null), (toolkit.DockerNvidiaRuntime, toolkit.DockerCdi, toolkit.CdiSpec));
        var finding = Assert.Single(toolkit.Findings);
        Assert.Equal(("noDockerRuntime", ToolkitFindingSeverity.Warning), (finding.Code, finding.Severity));
    }

    [Fact]
    public async Task Docker27WithOnlyCdiAndTheFeatureOffIsWarned()
    {
        using var lab = Lab(docker: "27.5.1", files: new()
        {
            ["/etc/nvidia-container-runtime/config.toml"] = NoCgroupsTrue,
            ["/etc/cdi/nvidia.yaml"] = ToolkitFilesFacts.SpecFor550,
        });
        using var factory = new GpuLxcApiFactory(lab.Host);

        var toolkit = (await factory.CreateGpuLxcClient().GetContainerDriverAsync("101")).Toolkit;

        Assert.Equal((false, (bool?)false), (toolkit.DockerCdi, toolkit.CdiSpec!.Stale));
        var finding = Assert.Single(toolkit.Findings);
        Assert.Equal(("cdiFeatureOff", ToolkitFindingSeverity.Warning, "nvidia-ctk runtime configure --runtime=docker --cdi.enabled, then systemctl restart docker"),
            (finding.Code, finding.Severity, finding.Fix));
    }

    [Fact]
    public async Task VerifyRunsAGpuContainerFromALocalImageThroughCdiAndNeverPulls()
    {
        using var lab = Lab(files: new() { ["/etc/nvidia-container-runtime/config.toml"] = NoCgroupsTrue, ["/etc/cdi/nvidia.yaml"] = ToolkitFilesFacts.SpecFor550 });
        lab.Guest("docker", $"""
            case "$1" in
              image) printf 'ubuntu:24.04\nnvidia/cuda:12.4.1-base-ubuntu22.04\n<none>:<none>\n' ;;
              run) echo '{Gpu}' ;;
              *) exit 3 ;;
            esac
            """);
        using var factory = new GpuLxcApiFactory(lab.Host);
        var job = await VerifyAsync(factory);

        Assert.True(job.State == JobState.Succeeded, job.Error?.Message);
        var step = job.Steps.Single(s => s.Name == "toolkit");
        Assert.Equal(JobStepState.Succeeded, step.State);
        Assert.Contains($"listed {Gpu}", step.Message, StringComparison.Ordinal);
        Assert.Contains("pct exec 101 -- docker run --rm --pull never --device nvidia.com/gpu=all nvidia/cuda:12.4.1-base-ubuntu22.04 nvidia-smi -L", lab.Commands);
        Assert.DoesNotContain(lab.Commands, c => c.Contains("docker pull", StringComparison.Ordinal));
    }

    [Fact]
    public async Task VerifyFailsWithDockersErrorAndTheFixWhenTheGpuContainerFails()
    {
        using var lab = Lab(docker: "24.0.7", files: new() { ["/etc/nvidia-container-runtime/config.toml"] = NoCgroupsTrue, ["/etc/docker/daemon.json"] = NvidiaRuntime });
        lab.Guest("docker", """
            case "$1" in
              image) echo 'ubuntu:24.04' ;;
              run) echo 'docker: Error response from daemon: failed to create task for container: OCI runtime create failed: nvidia-container-cli: container error: bpf_prog_query(BPF_CGROUP_DEVICE) failed: operation not permitted: unknown.' >&2; exit 125 ;;
            esac
            """);
        using var factory = new GpuLxcApiFactory(lab.Host);
        var job = await VerifyAsync(factory);

        Assert.Equal(JobState.Failed, job.State);
        Assert.Equal(("commandFailed", "toolkit", 125), (job.Error!.Code, job.Error.Step, job.Error.ExitCode));
        Assert.Equal("pct exec 101 -- docker run --rm --pull never --gpus all ubuntu:24.04 nvidia-smi -L", job.Error.Command);
        Assert.Contains("bpf_prog_query", job.Error.Message, StringComparison.Ordinal);
        Assert.Equal("nvidia-ctk config --set nvidia-container-cli.no-cgroups=true --in-place, then systemctl restart docker", job.Error.Fix);
    }

    [Fact]
    public async Task VerifyWithoutALocalImageSaysWhatItCheckedAndRunsNoContainer()
    {
        using var lab = Lab(files: new() { ["/etc/nvidia-container-runtime/config.toml"] = NoCgroupsTrue, ["/etc/docker/daemon.json"] = NvidiaRuntime });
        lab.Guest("docker", "[ \"$1\" = image ] && exit 0; exit 3");
        using var factory = new GpuLxcApiFactory(lab.Host);
        var job = await VerifyAsync(factory);

        Assert.True(job.State == JobState.Succeeded, job.Error?.Message);
        var step = job.Steps.Single(s => s.Name == "toolkit");
        Assert.Equal(JobStepState.Succeeded, step.State);
        Assert.StartsWith("Toolkit 1.17.8-1, auto mode, no-cgroups true, Docker 28.2.2; Docker has no local image and verify never pulls one, so no container was run", step.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(lab.Commands, c => c.Contains("docker run", StringComparison.Ordinal));
    }

    [Fact]
    public async Task VerifyFailsOnTheAuditsErrorBeforeRunningAnyContainer()
    {
        using var lab = Lab(files: new() { ["/etc/docker/daemon.json"] = NvidiaRuntime });
        lab.Guest("docker", $"[ \"$1\" = image ] && echo ubuntu:24.04; [ \"$1\" = run ] && echo '{Gpu}'; exit 0");
        using var factory = new GpuLxcApiFactory(lab.Host);
        var job = await VerifyAsync(factory);

        Assert.Equal(JobState.Failed, job.State);
        Assert.Equal(("verificationFailed", "toolkit"), (job.Error!.Code, job.Error.Step));
        Assert.Contains("bpf_prog_query(BPF_CGROUP_DEVICE)", job.Error.Message, StringComparison.Ordinal);
        Assert.Equal("nvidia-ctk config --set nvidia-container-cli.no-cgroups=true --in-place, then systemctl restart docker", job.Error.Fix);
        Assert.DoesNotContain(lab.Commands, c => c.Contains("docker run", StringComparison.Ordinal) || c.Contains("docker image", StringComparison.Ordinal));
    }

    [Fact]
    public async Task VerifySkipsTheToolkitStepWhenNoToolkitIsInstalled()
    {
        using var lab = Lab(toolkit: null);
        using var factory = new GpuLxcApiFactory(lab.Host);
        var job = await VerifyAsync(factory);

        Assert.True(job.State == JobState.Succeeded, job.Error?.Message);
        var step = job.Steps.Single(s => s.Name == "toolkit");
        Assert.Equal(JobStepState.Skipped, step.State);
        Assert.Contains("not installed", step.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheDiagnosticsFailForARunningGpuContainerWhoseToolkitKeepsCgroups()
    {
        using var lab = Lab(files: new() { ["/etc/nvidia-container-runtime/config.toml"] = DefaultsConfig });
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();
        await DriverLab.AttachAsync(client);

        var check = (await client.GetDiagnosticsAsync()).Checks.Single(c => c.Id == "container-toolkit-cgroups");

        Assert.Equal(CheckStatus.Fail, check.Status);
        Assert.StartsWith("Container 101: /etc/nvidia-container-runtime/config.toml leaves nvidia-container-cli.no-cgroups false", check.Detail, StringComparison.Ordinal);
        Assert.Equal("Inside container 101: nvidia-ctk config --set nvidia-container-cli.no-cgroups=true --in-place, then systemctl restart docker.", check.Fix);
    }

    [Fact]
    public async Task TheDiagnosticsPassWhenTheToolkitIsSetUpForLxc()
    {
        using var lab = Lab(files: new() { ["/etc/nvidia-container-runtime/config.toml"] = NoCgroupsTrue });
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();
        await DriverLab.AttachAsync(client);

        var check = (await client.GetDiagnosticsAsync()).Checks.Single(c => c.Id == "container-toolkit-cgroups");

        Assert.Equal((CheckStatus.Pass, "101: toolkit 1.17.8-1, auto mode, no-cgroups true."), (check.Status, check.Detail));
    }

    [Fact]
    public async Task DriverStatusPrintsTheToolkitsFindingAndFails()
    {
        using var lab = Lab(files: new() { ["/etc/nvidia-container-runtime/config.toml"] = DefaultsConfig, ["/etc/docker/daemon.json"] = NvidiaRuntime });
        using var factory = new GpuLxcApiFactory(lab.Host);

        var run = await CliRun.RunAsync(factory, "driver", "status", "101");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("1.17.8-1, auto mode, no-cgroups false, docker 28.2.2", run.Out, StringComparison.Ordinal);
        Assert.Contains("toolkit error", run.Out, StringComparison.Ordinal);
        Assert.Contains("bpf_prog_query(BPF_CGROUP_DEVICE)", run.Out, StringComparison.Ordinal);
    }

    /// <summary>
    /// The lab with container 101's driver at the host's version, the toolkit's packages at <paramref name="toolkit"/>
    /// (null: not installed), dockerd at <paramref name="docker"/> (null: absent), and the guest's <paramref name="files"/>.
    /// </summary>
    private static DriverLab Lab(string? toolkit = "1.17.8-1", string? docker = "28.2.2", Dictionary<string, string>? files = null)
    {
        var lab = new DriverLab().GuestDriver(DriverLab.HostVersion, DriverLab.HostVersion);
        var root = Path.Join(lab.Host.BinDir, "guest-root");
        foreach (var (path, content) in files ?? [])
        {
            Directory.CreateDirectory(Path.GetDirectoryName(root + path)!);
            File.WriteAllText(root + path, content);
        }

        lab.Guest("cat", $$"""
            [ "$1" = /etc/os-release ] && { printf '%s' '{{DriverLab.UbuntuNoble}}'; exit 0; }
            f="$(dirname "$0")/../guest-root$1"
            [ -f "$f" ] && exec /bin/cat "$f"
            echo "cat: $1: No such file or directory" >&2; exit 1
            """);
        lab.Guest("dpkg-query", toolkit is null
            ? "shift 3; for p in \"$@\"; do echo \"dpkg-query: no packages found matching $p\" >&2; done; exit 1"
            : $"shift 3; for p in \"$@\"; do echo \"ii |$p|{toolkit}\"; done");
        lab.Guest("nvidia-ctk", "echo 'sh: 1: nvidia-ctk: not found' >&2; exit 127");
        lab.Guest("dockerd", docker is null ? "echo 'sh: 1: dockerd: not found' >&2; exit 127" : $"echo 'Docker version {docker}, build e6534b4'");
        return lab;
    }

    /// <summary>Attaches container 101 and verifies it; the factory stays the caller's, since disposing it takes the lab's host tree and its command log along.</summary>
    private static async Task<Job> VerifyAsync(GpuLxcApiFactory factory)
    {
        var client = factory.CreateGpuLxcClient();
        await DriverLab.AttachAsync(client);
        return await DriverLab.WaitAsync(client, (await client.VerifyContainerGpuAsync("101")).Result.Id);
    }
}
