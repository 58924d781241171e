using GpuLxc.Api.Drivers;

namespace GpuLxc.Api.Tests.Drivers;

public sealed class ToolkitAuditFacts
{
    private const string Host = "550.127.05";

    /// <summary>A toolkit 1.17.8 set up as it works inside LXC: no-cgroups true, Docker 28.2 with the nvidia runtime, a current CDI spec.</summary>
    private static readonly ToolkitReading Working = new(
        new Dictionary<string, string> { ["nvidia-container-toolkit"] = "1.17.8-1", ["nvidia-container-toolkit-base"] = "1.17.8-1", ["libnvidia-container1"] = "1.17.8-1" },
        "1.17.8-1", new ToolkitRuntimeConfig(true, "auto"), "28.2.2", new DockerDaemonConfig(true, null, null),
        "/etc/cdi/nvidia.yaml", new CdiSpecDrivers([Host]), Host, Unprivileged: true);

    [Fact]
    public void Findings_AreNone_WhenTheToolkitIsSetUpForLxc() => Assert.Empty(ToolkitAudit.Findings(Working));

    [Fact]
    public void Findings_AreNone_WhenTheToolkitIsNotInstalled() =>
        Assert.Empty(ToolkitAudit.Findings(Working with { Version = null, Packages = new Dictionary<string, string>(), Config = new ToolkitRuntimeConfig(false, "legacy") }));

    [Theory]
    [InlineData("auto")]
    [InlineData("legacy")]
    public void Findings_NameTheBpfError_WhenNoCgroupsIsFalseOnTheLegacyPath(string mode)
    {
        var finding = Assert.Single(ToolkitAudit.Findings(Working with { Config = new ToolkitRuntimeConfig(false, mode) }));

        Assert.Equal(("cgroupsInLxc", ToolkitFindingSeverity.Error), (finding.Code, finding.Severity));
        Assert.Contains("bpf_prog_query(BPF_CGROUP_DEVICE) failed: operation not permitted", finding.Message, StringComparison.Ordinal);
        Assert.Equal("nvidia-ctk config --set nvidia-container-cli.no-cgroups=true --in-place, then systemctl restart docker", finding.Fix);
    }

    [Fact]
    public void Findings_AreNone_WhenNoCgroupsIsFalseInCdiMode() =>
        Assert.Empty(ToolkitAudit.Findings(Working with { Config = new ToolkitRuntimeConfig(false, "cdi") }));

    [Theory]
    [InlineData("1.17.7-1", true)]
    [InlineData("1.14.6-1", true)]
    [InlineData("1.17.8-1", false)]
    [InlineData("1.18.0-1", false)]
    public void Findings_WarnOfTheCve_BelowTheSecurityFloor(string version, bool warned)
    {
        var packages = Working.Packages.ToDictionary(p => p.Key, _ => version);

        var findings = ToolkitAudit.Findings(Working with { Version = version, Packages = packages });

        Assert.Equal(warned, findings.Any(f => f is { Code: "vulnerableToolkit", Severity: ToolkitFindingSeverity.Warning } && f.Message.Contains("CVE-2025-23266", StringComparison.Ordinal)));
    }

    [Fact]
    public void Findings_CallTheSpecStale_WhenItWasGeneratedForAnotherDriver()
    {
        var reading = Working with { Spec = new CdiSpecDrivers(["550.120"]) };

        var finding = Assert.Single(ToolkitAudit.Findings(reading));

        Assert.Equal(("staleCdiSpec", ToolkitFindingSeverity.Error, "nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml"), (finding.Code, finding.Severity, finding.Fix));
        Assert.Equal(new CdiSpec("/etc/cdi/nvidia.yaml", "550.120", true), ToolkitAudit.Spec(reading));
    }

    [Fact]
    public void Findings_WarnThatDockerCannotReachTheGpu_WhenNoRuntimeIsRegisteredAndThereIsNoSpec()
    {
        var finding = Assert.Single(ToolkitAudit.Findings(Working with { Daemon = new DockerDaemonConfig(false, null, null), SpecPath = null, Spec = null }));

        Assert.Equal(("noDockerRuntime", ToolkitFindingSeverity.Warning), (finding.Code, finding.Severity));
        Assert.StartsWith("nvidia-ctk runtime configure --runtime=docker", finding.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void Findings_AreNone_WhenDocker28UsesOnlyCdi() =>
        Assert.Empty(ToolkitAudit.Findings(Working with { Daemon = new DockerDaemonConfig(false, null, null) }));

    [Theory]
    [InlineData("26.1.5+dfsg1", null, true)]
    [InlineData("27.5.1", false, true)]
    [InlineData("27.5.1", true, false)]
    [InlineData("28.2.2", null, false)]
    public void Findings_WarnThatCdiIsOff_WhenDockerBefore282HasOnlyCdiWithoutTheFeature(string docker, bool? feature, bool warned)
    {
        var findings = ToolkitAudit.Findings(Working with { DockerVersion = docker, Daemon = new DockerDaemonConfig(false, null, feature) });

        Assert.Equal(warned, findings.Any(f => f is { Code: "cdiFeatureOff", Severity: ToolkitFindingSeverity.Warning }));
        Assert.DoesNotContain(findings, f => f.Code == "noDockerRuntime");
    }

    [Fact]
    public void Findings_AreAnError_WhenConfigTomlDoesNotParse()
    {
        var finding = Assert.Single(ToolkitAudit.Findings(Working with { Config = new ToolkitRuntimeConfig(false, "auto", "line 2, column 14: unexpected token") }));

        Assert.Equal(("unparsableConfig", ToolkitFindingSeverity.Error), (finding.Code, finding.Severity));
    }

    [Fact]
    public void Findings_WarnThatPackagesDisagree_WhenTheirVersionsDiffer()
    {
        var packages = new Dictionary<string, string>(Working.Packages) { ["libnvidia-container1"] = "1.17.4-1" };

        var finding = Assert.Single(ToolkitAudit.Findings(Working with { Packages = packages }));

        Assert.Equal("packageVersionsDiffer", finding.Code);
        Assert.Contains("libnvidia-container1 1.17.4-1", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DockerCdi_FollowsTheVersionsDefault_WhenFeaturesDoNotSayIt()
    {
        Assert.Equal(true, ToolkitAudit.DockerCdi(Working));
        Assert.Equal(false, ToolkitAudit.DockerCdi(Working with { DockerVersion = "27.5.1" }));
        Assert.Equal(false, ToolkitAudit.DockerCdi(Working with { DockerVersion = "28.2.2", Daemon = new DockerDaemonConfig(true, null, false) }));
        Assert.Equal(false, ToolkitAudit.DockerCdi(Working with { DockerVersion = "24.0.7", Daemon = new DockerDaemonConfig(true, null, true) }));
        Assert.Null(ToolkitAudit.DockerCdi(Working with { DockerVersion = null }));
    }
}
