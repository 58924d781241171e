using GpuLxc.Api.Auth;
using GpuLxc.Api.Tests.Support;

namespace GpuLxc.Api.Tests.Auth;

public sealed class GeneratedKeyTests
{
    [Fact]
    public async Task WithoutConfiguredKeysTheGeneratedAdminKeyWorksAndOnlyItsPathIsLogged()
    {
        using var factory = new GpuLxcApiFactory(configureKeys: false);
        using var anonymous = factory.CreateKeyedClient(key: null);
        await anonymous.GetAsync(new Uri("/healthz", UriKind.Relative));

        var path = Path.Join(factory.DataDir, ApiKeyStore.GeneratedKeyFileName);
        var key = (await File.ReadAllTextAsync(path)).Trim();
        var host = await factory.CreateGpuLxcClient(key).GetHostAsync();

        Assert.Equal("pve1", host.Hostname);
        Assert.Contains(factory.Logs, line => line.Contains(path, StringComparison.Ordinal));
        Assert.DoesNotContain(factory.Logs, line => line.Contains(key, StringComparison.Ordinal));
    }
}
