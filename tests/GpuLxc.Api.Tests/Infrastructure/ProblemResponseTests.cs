using System.Net;
using System.Text.Json;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Tests.Support;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace GpuLxc.Api.Tests.Infrastructure;

/// <summary>Errors produced outside any handler are problem+json too.</summary>
public sealed class ProblemResponseTests
{
    [Fact]
    public async Task UnknownRouteIsNotFoundProblem()
    {
        using var factory = new GpuLxcApiFactory();
        using var http = factory.CreateKeyedClient();

        using var response = await http.GetAsync(new Uri("/api/v1/no-such-thing", UriKind.Relative));

        var problem = await AssertProblemAsync(response, HttpStatusCode.NotFound);
        Assert.Equal("/api/v1/no-such-thing", problem.GetProperty("instance").GetString());
    }

    [Fact]
    public async Task WrongMethodIsMethodNotAllowedProblemWithAllowHeader()
    {
        using var factory = new GpuLxcApiFactory();
        using var http = factory.CreateKeyedClient();

        using var response = await http.DeleteAsync(new Uri("/api/v1/host", UriKind.Relative));

        await AssertProblemAsync(response, HttpStatusCode.MethodNotAllowed);
        Assert.Contains("GET", response.Content.Headers.Allow);
    }

    [Fact]
    public async Task UnhandledExceptionIsInternalErrorProblemWithTraceIdAndNoStackTrace()
    {
        using var factory = new GpuLxcApiFactory();
        var http = factory.WithWebHostBuilder(builder => builder.ConfigureTestServices(services =>
                services.AddSingleton<IHostFileSystem>(new ExplodingFileSystem(() => new InvalidOperationException("disk on fire")))))
            .CreateClient();
        http.DefaultRequestHeaders.Authorization = new("Bearer", TestKeys.Admin);

        using var response = await http.GetAsync(new Uri("/api/v1/host", UriKind.Relative));

        var problem = await AssertProblemAsync(response, HttpStatusCode.InternalServerError);
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("traceId").GetString()));
        var body = problem.GetRawText();
        Assert.DoesNotContain("ExplodingFileSystem", body, StringComparison.Ordinal);
        Assert.DoesNotContain("disk on fire", body, StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", body, StringComparison.Ordinal);
        Assert.Contains(factory.Logs, line => line.Contains("Unhandled exception", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("text/event-stream", "/api/v1/events?types=driver.exploded", HttpStatusCode.BadRequest)]
    [InlineData("text/plain", "/api/v1/containers/0", HttpStatusCode.BadRequest)]
    [InlineData("text/html", "/api/v1/gpus/GPU-00000000-0000-0000-0000-000000000000", HttpStatusCode.NotFound)]
    public async Task AnErrorIsProblemJsonWhateverTheAcceptHeaderAsksFor(string accept, string path, HttpStatusCode status)
    {
        using var factory = new GpuLxcApiFactory();
        using var http = factory.CreateKeyedClient(TestKeys.Admin);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        request.Headers.TryAddWithoutValidation("Accept", accept);

        using var response = await http.SendAsync(request);

        var problem = await AssertProblemAsync(response, status);
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("traceId").GetString()));
    }

    [Fact]
    public async Task HealthEndpointsAnswerWithoutAKey()
    {
        using var factory = new GpuLxcApiFactory();
        using var http = factory.CreateKeyedClient(key: null);

        using var live = await http.GetAsync(new Uri("/healthz", UriKind.Relative));
        using var ready = await http.GetAsync(new Uri("/readyz", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        var readiness = JsonDocument.Parse(await ready.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("healthy", readiness.GetProperty("checks").GetProperty("dataDir").GetProperty("status").GetString());
        Assert.Equal("healthy", readiness.GetProperty("checks").GetProperty("database").GetProperty("status").GetString());
    }

    [Fact]
    public async Task SwaggerUiAndDocumentAreServedWithoutAKey()
    {
        using var factory = new GpuLxcApiFactory();
        using var http = factory.CreateKeyedClient(key: null);

        using var ui = await http.GetAsync(new Uri("/swagger/index.html", UriKind.Relative));
        using var document = await http.GetAsync(new Uri("/openapi/v1.json", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, ui.StatusCode);
        Assert.Contains("swagger-ui", await ui.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, document.StatusCode);
    }

    internal static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal((int)expected, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        return problem;
    }
}
