using System.Text.Json;
using GpuLxc.Api.Drivers;
using GpuLxc.Api.Jobs;

namespace GpuLxc.Api.Tests.Jobs;

public sealed class JobParametersFacts
{
    private const string Installer = "/root/NVIDIA-Linux-x86_64-550.127.05.run";

    [Fact]
    public void Store_LeavesNullsOut_AsThePreviousVersionDid()
    {
        var stored = JobParameters.Store(new HostDriverInstallRequest(HostInstallMethod.RunInstaller, Version: "550.127.05", RunInstaller: Installer));

        Assert.Equal($$"""{"method":"runInstaller","version":"550.127.05","runInstaller":"{{Installer}}"}""", stored);
    }

    [Fact]
    public void Read_ReadsBackTheRequest_WhenStoredByThePreviousVersion()
    {
        // The previous version's column: the parameters as a JSON object of strings, in its own key order.
        const string Previous = $$"""{"runInstaller":"{{Installer}}","method":"runInstaller"}""";

        Assert.Equal(new HostDriverInstallRequest(HostInstallMethod.RunInstaller, RunInstaller: Installer), JobParameters.Read<HostDriverInstallRequest>(Previous));
        Assert.Equal(new DriverResyncRequest(GuestInstallMethod.Apt), JobParameters.Read<DriverResyncRequest>("""{"method":"apt"}"""));
        Assert.Equal(new GuestVerifyRequest(), JobParameters.Read<GuestVerifyRequest>("{}"));
    }

    [Fact]
    public void Read_Throws_WhenTheStoredMethodIsNoMethod()
    {
        Assert.Throws<JsonException>(() => JobParameters.Read<GuestDriverInstallRequest>("""{"method":"floppy"}"""));
    }

    [Fact]
    public void View_ShowsTheRequestAsStrings_WithoutItsNulls()
    {
        var view = JobParameters.View(JobParameters.Store(new GuestDriverInstallRequest(GuestInstallMethod.RunInstaller, Installer)));

        Assert.Equal(["method=runInstaller", $"runInstaller={Installer}", "profile=plain", "restart=false"], view.Select(p => $"{p.Key}={p.Value}"));
        Assert.Empty(JobParameters.View(JobParameters.Store(new GuestVerifyRequest())));
    }

    [Fact]
    public void View_SpellsNumbersAndBooleansAsJson_WhenTheColumnHasThem()
    {
        var view = JobParameters.View("""{"attempts":3,"dryRun":true,"skipped":null}""");

        Assert.Equal(["attempts=3", "dryRun=true"], view.Select(p => $"{p.Key}={p.Value}"));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[\"method\"]")]
    [InlineData("\"runInstaller\"")]
    public void View_ShowsNoParameters_WhenTheColumnHoldsNoJsonObject(string stored)
    {
        Assert.Empty(JobParameters.View(stored));
    }
}
