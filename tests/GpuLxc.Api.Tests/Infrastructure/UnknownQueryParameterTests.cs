using System.Net;
using System.Text.Json;
using GpuLxc.Api.Tests.Support;

namespace GpuLxc.Api.Tests.Infrastructure;

/// <summary>A query parameter an operation does not take is a 400 that changes nothing: a typo of <c>dryRun</c> must not write.</summary>
public sealed class UnknownQueryParameterTests
{
    private const string Config101 = "/etc/pve/lxc/101.conf";

    [Fact]
    public async Task AMistypedDryRunIsRefusedAndTheConfigIsNotTouched()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        using var http = factory.CreateKeyedClient();
        var before = factory.Host.Bytes(Config101);

        using var put = await http.PutAsync(new Uri("/api/v1/containers/101/gpu?dry-run=true", UriKind.Relative),
            new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));
        using var delete = await http.DeleteAsync(new Uri("/api/v1/containers/101/gpu?dryrun=true&restrat=true", UriKind.Relative));
        using var spelledRight = await http.PutAsync(new Uri("/api/v1/containers/101/gpu?dryRun=true", UriKind.Relative),
            new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
        var problem = JsonDocument.Parse(await put.Content.ReadAsStringAsync()).RootElement;
        Assert.Contains("dryRun", problem.GetProperty("errors").GetProperty("dry-run")[0].GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, delete.StatusCode);
        Assert.True(JsonDocument.Parse(await delete.Content.ReadAsStringAsync()).RootElement.GetProperty("errors").TryGetProperty("restrat", out _));
        Assert.Equal(HttpStatusCode.OK, spelledRight.StatusCode);
        Assert.Equal(before, factory.Host.Bytes(Config101));
    }

    [Fact]
    public async Task AnOperationWithoutQueryParametersRefusesAnyAndOneWithThemTakesThemInAnyCase()
    {
        using var factory = new GpuLxcApiFactory();
        using var http = factory.CreateKeyedClient();

        using var host = await http.GetAsync(new Uri("/api/v1/host?verbose=1", UriKind.Relative));
        using var jobs = await http.GetAsync(new Uri("/api/v1/jobs?STATE=failed&limit=5", UriKind.Relative));

        Assert.Equal(HttpStatusCode.BadRequest, host.StatusCode);
        Assert.Contains("takes no query parameters", await host.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, jobs.StatusCode);
    }
}
