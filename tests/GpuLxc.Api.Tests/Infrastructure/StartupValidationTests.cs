using GpuLxc.Api.Tests.Support;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Tests.Infrastructure;

/// <summary>A setting that would be misread stops the service at start, with one message naming it.</summary>
public sealed class StartupValidationTests
{
    [Theory]
    [InlineData("GpuLxc:Nvenc:Scope", "gpus", "GpuLxc:Nvenc:Scope is 'gpus': use 'host' (default) or 'gpu'.")]
    [InlineData("GpuLxc:Nvenc:DefaultTtlSeconds", "0", "GpuLxc:Nvenc:DefaultTtlSeconds is 0: use 5 to 86400")]
    [InlineData("GpuLxc:Nvenc:Quotas:101", "0", "GpuLxc:Nvenc:Quotas:101 is 0: use 1 or more")]
    [InlineData("GpuLxc:Jobs:Storage", "mysql", "GpuLxc:Jobs:Storage is 'mysql': use 'sqlite' (default) or 'postgres'.")]
    [InlineData("GpuLxc:Guardian:Policy", "always", "GpuLxc:Guardian:Policy is 'always': use 'auto', 'notify' (default) or 'off'.")]
    [InlineData("GpuLxc:Guardian:Policy", "1", "GpuLxc:Guardian:Policy is '1': use 'auto', 'notify' (default) or 'off'.")]
    [InlineData("GpuLxc:Guardian:Policy", "auto,notify", "GpuLxc:Guardian:Policy is 'auto,notify': use 'auto', 'notify' (default) or 'off'.")]
    [InlineData("GpuLxc:Guardian:CheckSeconds", "0", "GpuLxc:Guardian:CheckSeconds is 0: use 1 to 3600 (default 30).")]
    [InlineData("GpuLxc:Guardian:HostUserspace", "reboot", "GpuLxc:Guardian:HostUserspace is 'reboot': use 'leave' (default), 'stopped' or 'restart'.")]
    [InlineData("GpuLxc:Auth:ApiKeys:admin:Scopes", "root", "GpuLxc:Auth:ApiKeys:admin:Scopes must list one or more of read, sessions, admin (unknown: root).")]
    public void ASettingThatWouldBeMisreadStopsTheStartWithAMessageNamingIt(string setting, string value, string expected)
    {
        using var factory = new GpuLxcApiFactory();
        factory.Settings[setting] = value;

        var error = Assert.ThrowsAny<Exception>(() => factory.CreateClient());

        var refusal = Assert.IsType<OptionsValidationException>(error is OptionsValidationException ? error : throw new Xunit.Sdk.XunitException(error.ToString()));
        Assert.Contains(expected, refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUpperCaseNvencScopeStillMeansPerGpuBudgets()
    {
        using var factory = new GpuLxcApiFactory(HostFixtures.Seed());
        factory.Settings["GpuLxc:Nvenc:Scope"] = "GPU";

        var status = await factory.CreateGpuLxcClient().GetNvencAsync();

        Assert.Equal("gpu", status.Scope);
    }
}
