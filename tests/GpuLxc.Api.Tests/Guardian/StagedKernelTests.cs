using System.Net;
using System.Text.Json;
using GpuLxc.Api.Tests.Drivers;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;
using Microsoft.Extensions.DependencyInjection;

namespace GpuLxc.Api.Tests.Guardian;

/// <summary>
/// The demo node (running 6.8.12-4-pve) with 6.8.12-5-pve installed beside it: kmod answers for the new kernel only
/// once DKMS has built the module there (the stub dkms leaves a marker that the stub modinfo reads).
/// </summary>
public sealed class StagedKernelTests : IDisposable
{
    private const string Staged = "6.8.12-5-pve";

    private readonly DriverLab _lab = new();

    public StagedKernelTests()
    {
        var built = Path.Join(_lab.Host.BinDir, "built-for-staged");
        _lab.Host.WithFile($"/boot/vmlinuz-{Staged}", "").WithDirectory($"/lib/modules/{Staged}/kernel");
        _lab.Stub("modinfo", $"""
            if [ "$1" = -k ]; then [ "$2" = {Staged} ] && [ -f '{built}' ] && echo {DriverLab.HostVersion}; exit 0; fi
            [ "$2" = version ] && echo {DriverLab.HostVersion}; exit 0
            """);
        _lab.Stub("dkms", $"""
            case "$1" in
              status) echo "nvidia/{DriverLab.HostVersion}, {DriverLab.Kernel}, x86_64: installed"; [ -f '{built}' ] && echo "nvidia/{DriverLab.HostVersion}, {Staged}, x86_64: installed"; exit 0 ;;
              autoinstall) touch '{built}' ;;
            esac
            """);
    }

    [Fact]
    public async Task AStagedKernelWithoutTheModuleIsADiagnosticThatTheBuildJobClears()
    {
        using var factory = new GpuLxcApiFactory(_lab.Host, ownsHost: false);
        var client = factory.CreateGpuLxcClient();

        var before = (await client.GetDiagnosticsAsync()).Checks.Single(c => c.Id == "staged-kernel-modules");
        var guardian = await UpgradeGuardianTests.FirstCheckAsync(client);
        var byGuardian = (await client.ListJobsAsync(kind: JobKind.KernelModuleBuild)).Where(j => j.RequestedBy == "guardian").ToList();
        var job = await DriverLab.WaitAsync(client, (await client.BuildKernelModuleAsync(new KernelModuleBuildRequest { Kernel = Staged })).Result.Id);
        var after = (await client.GetDiagnosticsAsync()).Checks.Single(c => c.Id == "staged-kernel-modules");

        Assert.Equal(CheckStatus.Fail, before.Status);
        Assert.Contains($"After the next reboot into {Staged} the GPU is gone", before.Detail, StringComparison.Ordinal);
        Assert.Contains($"POST /api/v1/host/driver/build {{\"kernel\":\"{Staged}\"}}", before.Fix, StringComparison.Ordinal);
        var staged = Assert.Single(guardian.Host!.StagedKernels);
        Assert.Equal((Staged, false), (staged.Kernel, staged.ModuleBuilt));
        Assert.Empty(byGuardian);
        Assert.True(job.State == JobState.Succeeded, job.Error?.Message);
        Assert.Equal(["preflight", "headers", "build", "verify"], job.Steps.Select(s => s.Name));
        Assert.Contains($"apt-get install -y --no-install-recommends proxmox-headers-{Staged}", _lab.Commands);
        Assert.Contains($"dkms autoinstall -k {Staged}", _lab.Commands);
        Assert.Equal(DriverLab.HostVersion, job.Result!.InstalledVersion);
        Assert.Equal(CheckStatus.Pass, after.Status);
        Assert.Contains($"{Staged}: nvidia {DriverLab.HostVersion} built", after.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithAutoTheGuardianBuildsTheModuleForAStagedKernelByItself()
    {
        using var factory = new GpuLxcApiFactory(_lab.Host, ownsHost: false);
        factory.Settings["GpuLxc:Guardian:Policy"] = "auto";
        var client = factory.CreateGpuLxcClient();

        var build = await UpgradeGuardianTests.FirstJobAsync(client, JobKind.KernelModuleBuild, TimeSpan.FromSeconds(5));
        var job = await DriverLab.WaitAsync(client, build.Id);
        var events = factory.Services.GetRequiredService<GpuLxc.Api.Events.EventLog>().After(0);

        Assert.Equal("guardian", build.RequestedBy);
        Assert.Equal([$"kernel={Staged}"], build.Parameters.Select(p => $"{p.Key}={p.Value}"));
        Assert.True(job.State == JobState.Succeeded, job.Error?.Message);
        var staged = Assert.Single(events, e => e.Type == GpuLxc.Api.Events.EventTypes.KernelStaged);
        Assert.Equal((Staged, false), ((string?)staged.Data["kernel"], (bool?)staged.Data["moduleBuilt"]));
        Assert.Contains(events, e => e.Type == GpuLxc.Api.Events.EventTypes.RebootNeeded && (string?)e.Data["reason"] == "moduleMissing");
    }

    [Fact]
    public async Task AStagedKernelWithItsModuleBuiltPasses()
    {
        File.WriteAllText(Path.Join(_lab.Host.BinDir, "built-for-staged"), "");
        using var factory = new GpuLxcApiFactory(_lab.Host, ownsHost: false);

        var check = (await factory.CreateGpuLxcClient().GetDiagnosticsAsync()).Checks.Single(c => c.Id == "staged-kernel-modules");

        Assert.Equal(CheckStatus.Pass, check.Status);
        Assert.Equal($"{Staged}: nvidia {DriverLab.HostVersion} built", check.Detail);
    }

    [Theory]
    [InlineData("../../etc", "kernel must be a kernel release")]
    [InlineData("6.8.12-5-pve\n", "kernel must be a kernel release")]
    [InlineData("6.9.1-1-pve", "kernel 6.9.1-1-pve is not installed")]
    public async Task ABuildForAKernelThatIsNotInstalledIsA400AndStartsNothing(string kernel, string message)
    {
        using var factory = new GpuLxcApiFactory(_lab.Host, ownsHost: false);
        using var http = factory.CreateKeyedClient();

        using var response = await http.PostAsync(new Uri("/api/v1/host/driver/build", UriKind.Relative),
            GuestDriverJobTests.Json(JsonSerializer.Serialize(new { kernel })));
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(message, body, StringComparison.Ordinal);
        Assert.Empty(await factory.CreateGpuLxcClient().ListJobsAsync());
        Assert.DoesNotContain(_lab.Commands, c => c.StartsWith("dkms autoinstall", StringComparison.Ordinal));
    }

    public void Dispose() => _lab.Dispose();
}
