using System.Net;
using System.Text.Json;
using GpuLxc.Api.Tests.Support;

namespace GpuLxc.Api.Tests.Drivers;

/// <summary>Every request field that reaches a command or a path is checked first: bad input is a 400 and runs nothing.</summary>
public sealed class DriverRequestValidationTests
{
    public static TheoryData<string, string, string> BadRequests() => new()
    {
        { "/api/v1/host/driver/install", """{"method":"runInstaller","runInstaller":"/root/NVIDIA.run; reboot"}""", "runInstaller" },
        { "/api/v1/host/driver/install", """{"method":"runInstaller","runInstaller":"/root/$(reboot).run"}""", "runInstaller" },
        { "/api/v1/host/driver/install", """{"method":"runInstaller","runInstaller":"/root/../etc/x.run"}""", "runInstaller" },
        { "/api/v1/host/driver/install", """{"method":"runInstaller","runInstaller":"relative/NVIDIA.run"}""", "runInstaller" },
        { "/api/v1/host/driver/install", """{"method":"runInstaller","runInstaller":"/root/missing-550.127.05.run"}""", "runInstaller" },
        { "/api/v1/host/driver/install", """{"method":"runInstaller"}""", "runInstaller" },
        { "/api/v1/host/driver/install", """{"package":"nvidia-driver && reboot"}""", "package" },
        { "/api/v1/host/driver/install", """{"package":"nvidia-driver`id`"}""", "package" },
        { "/api/v1/host/driver/install", """{"version":"550.127.05|sh"}""", "version" },
        { "/api/v1/host/driver/install", """{"version":"550"}""", "version" },
        { "/api/v1/host/driver/install", """{"method":"reboot"}""", "$.method" },
        { "/api/v1/containers/101/driver/install", """{"method":"runInstaller","runInstaller":"/tmp/x.run\nreboot"}""", "runInstaller" },
        { "/api/v1/containers/101/driver/install", """{"method":"apt","runInstaller":"/root/NVIDIA-Linux-x86_64-550.127.05.run"}""", "runInstaller" },
        { "/api/v1/host/driver/resync", """{"runInstaller":"/root/a b.run"}""", "runInstaller" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task ShellMetacharactersAndBadValuesAreRejectedWith400BeforeAnyCommandRuns(string path, string body, string field)
    {
        using var lab = new DriverLab();
        using var factory = new GpuLxcApiFactory(lab.Host);
        using var http = factory.CreateKeyedClient();

        using var response = await http.PostAsync(new Uri(path, UriKind.Relative), GuestDriverJobTests.Json(body));
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        Assert.Empty(lab.Commands);
    }

    [Theory]
    [InlineData("101;reboot")]
    [InlineData("101 --force")]
    [InlineData("$(id)")]
    [InlineData("1|2")]
    public async Task ABadContainerIdIs400BeforeAnyCommandRuns(string containerId)
    {
        using var lab = new DriverLab();
        using var factory = new GpuLxcApiFactory(lab.Host);
        using var http = factory.CreateKeyedClient();
        var escaped = Uri.EscapeDataString(containerId);

        using var install = await http.PostAsync(new Uri($"/api/v1/containers/{escaped}/driver/install", UriKind.Relative), GuestDriverJobTests.Json("{}"));
        using var verify = await http.PostAsync(new Uri($"/api/v1/containers/{escaped}/gpu/verify", UriKind.Relative), null);
        using var read = await http.GetAsync(new Uri($"/api/v1/containers/{escaped}/driver", UriKind.Relative));

        Assert.Equal([HttpStatusCode.BadRequest, HttpStatusCode.BadRequest, HttpStatusCode.BadRequest], new[] { install.StatusCode, verify.StatusCode, read.StatusCode });
        Assert.Empty(lab.Commands);
    }

    [Theory]
    [InlineData("/api/v1/jobs?state=done", "state")]
    [InlineData("/api/v1/jobs?kind=reboot", "kind")]
    [InlineData("/api/v1/jobs?target=a%3Bb", "target")]
    [InlineData("/api/v1/jobs?limit=0", "limit")]
    [InlineData("/api/v1/jobs/0123456789abcdef0123456789abcdef?waitSeconds=301", "waitSeconds")]
    [InlineData("/api/v1/jobs/0123456789abcdef0123456789abcdef/log?after=-1", "after")]
    public async Task BadJobQueriesAre400(string url, string field)
    {
        using var factory = new GpuLxcApiFactory();
        using var http = factory.CreateKeyedClient();

        using var response = await http.GetAsync(new Uri(url, UriKind.Relative));
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Theory]
    [InlineData("0123456789abcdef0123456789abcdef")]
    [InlineData("not-a-job")]
    public async Task AnUnknownJobIs404(string jobId)
    {
        using var factory = new GpuLxcApiFactory();
        using var http = factory.CreateKeyedClient();

        using var get = await http.GetAsync(new Uri($"/api/v1/jobs/{jobId}", UriKind.Relative));
        using var log = await http.GetAsync(new Uri($"/api/v1/jobs/{jobId}/log", UriKind.Relative));
        using var cancel = await http.DeleteAsync(new Uri($"/api/v1/jobs/{jobId}", UriKind.Relative));

        Assert.Equal([HttpStatusCode.NotFound, HttpStatusCode.NotFound, HttpStatusCode.NotFound], new[] { get.StatusCode, log.StatusCode, cancel.StatusCode });
    }

    [Fact]
    public async Task AReadKeyCanPollJobsButNotStartOrCancelThem()
    {
        using var lab = new DriverLab();
        using var factory = new GpuLxcApiFactory(lab.Host);
        using var reader = factory.CreateKeyedClient(TestKeys.Read);

        using var start = await reader.PostAsync(new Uri("/api/v1/host/driver/install", UriKind.Relative), GuestDriverJobTests.Json("{}"));
        using var list = await reader.GetAsync(new Uri("/api/v1/jobs", UriKind.Relative));
        using var cancel = await reader.DeleteAsync(new Uri("/api/v1/jobs/0123456789abcdef0123456789abcdef", UriKind.Relative));

        Assert.Equal((HttpStatusCode.Forbidden, HttpStatusCode.OK, HttpStatusCode.Forbidden), (start.StatusCode, list.StatusCode, cancel.StatusCode));
        Assert.Empty(lab.Commands);
    }
}
