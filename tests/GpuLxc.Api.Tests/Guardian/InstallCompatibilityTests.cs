using System.Net;
using System.Text.Json;
using GpuLxc.Api.Tests.Drivers;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Guardian;

/// <summary>The host install is held to the compatibility rules before its job starts; diagnostics hold the installed driver to them.</summary>
public sealed class InstallCompatibilityTests
{
    [Theory]
    [InlineData("""{"package":"nvidia-driver-580"}""", "urn:gpulxc:problem:driver-unsupported-gpu", "last driver branch is 470", "470")]
    [InlineData("""{"version":"590.48.01"}""", "urn:gpulxc:problem:driver-unsupported-gpu", "last driver branch is 470", "470")]
    public async Task AKeplerHostIsRefusedABranchPast470WithA409NamingIt(string body, string type, string detail, string fix)
    {
        using var factory = new GpuLxcApiFactory(HostFixtures.Seed());
        using var http = factory.CreateKeyedClient();

        using var response = await http.PostAsync(new Uri("/api/v1/host/driver/install", UriKind.Relative), GuestDriverJobTests.Json(body));
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal(type, problem.GetProperty("type").GetString());
        Assert.Contains(detail, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("GeForce GTX 760", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("source: https://", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains(fix, problem.GetProperty("fix").GetString(), StringComparison.Ordinal);
        Assert.Empty(await factory.CreateGpuLxcClient().ListJobsAsync());
    }

    [Fact]
    public async Task AVersionThatDoesNotBuildForTheRunningKernelIsRefused()
    {
        // The H100 host runs 6.18: R580 builds there from 580.105.08 on.
        using var factory = new GpuLxcApiFactory(HostFixtures.H100());
        using var http = factory.CreateKeyedClient();

        using var response = await http.PostAsync(new Uri("/api/v1/host/driver/install", UriKind.Relative), GuestDriverJobTests.Json("""{"version":"580.95.05"}"""));
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("urn:gpulxc:problem:kernel-driver-incompatible", problem.GetProperty("type").GetString());
        Assert.Contains("needs driver 580.105.08 or later", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Empty(await factory.CreateGpuLxcClient().ListJobsAsync());
    }

    [Fact]
    public async Task TheLastBranchOfTheGenerationIsAccepted()
    {
        using var lab = new DriverLab();
        using var factory = new GpuLxcApiFactory(lab.Host, ownsHost: false);

        var job = await factory.CreateGpuLxcClient().InstallHostDriverAsync(new HostDriverInstallRequest { Package = "nvidia-driver-590-open" });

        Assert.Equal(JobKind.HostDriverInstall, job.Kind);
        await DriverLab.WaitAsync(factory.CreateGpuLxcClient(), job.Id);
    }

    [Fact]
    public async Task DiagnosticsFlagAnInstalledDriverThatCannotDriveTheGpu()
    {
        // The seed's GTX 760 with 580 installed over its 418 (not rebooted yet): after the reboot no driver drives it.
        using var factory = new GpuLxcApiFactory(HostFixtures.Seed().WithCommand("modinfo", "[ \"$2\" = version ] && echo 580.105.08; exit 0"));

        var check = (await factory.CreateGpuLxcClient().GetDiagnosticsAsync()).Checks.Single(c => c.Id == "driver-supports-gpu");

        Assert.Equal(CheckStatus.Fail, check.Status);
        Assert.Contains("Kepler generation's last driver branch is 470; branch 580 does not drive it", check.Detail, StringComparison.Ordinal);
        Assert.Contains("470", check.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DiagnosticsPassADriverOfTheGenerationsBranch()
    {
        using var factory = new GpuLxcApiFactory(HostFixtures.Seed());

        var check = (await factory.CreateGpuLxcClient().GetDiagnosticsAsync()).Checks.Single(c => c.Id == "driver-supports-gpu");

        Assert.Equal(CheckStatus.Pass, check.Status);
        Assert.Contains("Driver 418.152.00 drives 0000:03:00.0 (Kepler)", check.Detail, StringComparison.Ordinal);
    }
}
