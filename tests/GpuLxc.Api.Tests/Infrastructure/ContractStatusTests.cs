using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace GpuLxc.Api.Tests.Infrastructure;

/// <summary>
/// A route answers only statuses its contract declares. <see cref="GpuLxcApiFactory"/> checks every answer of every
/// integration test against the route's metadata (<see cref="ContractCheck"/>); these drive the answers that once
/// went undeclared or incomplete, and find each status in the served OpenAPI document.
/// </summary>
public sealed class ContractStatusTests
{
    [Theory]
    [InlineData("/api/v1/containers")]
    [InlineData("/api/v1/attachments")]
    public async Task ListingWithoutAContainerBackendIsAConflictTheContractDeclares(string path)
    {
        using var factory = new GpuLxcApiFactory(HostTree.Proxmox());
        factory.Settings["GpuLxc:Host:Backend"] = "none";
        using var http = factory.CreateKeyedClient();

        using var response = await http.GetAsync(new Uri(path, UriKind.Relative));

        var problem = await ProblemResponseTests.AssertProblemAsync(response, HttpStatusCode.Conflict);
        Assert.Equal("urn:gpulxc:problem:no-container-backend", problem.GetProperty("type").GetString());
        await AssertDeclaredAsync(http, "get", path, HttpStatusCode.Conflict);
        Assert.DoesNotContain(factory.Logs, line => line.StartsWith("Error", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AStatusItsRouteDoesNotDeclareFailsTheTestThatMetIt()
    {
        var teapot = new ApiProblem(418, "urn:gpulxc:problem:teapot", "A teapot.");
        var factory = new GpuLxcApiFactory { ConfigureServices = services => services.AddSingleton<IHostFileSystem>(new ExplodingFileSystem(() => teapot.With("Short and stout."))) };
        using var http = factory.CreateKeyedClient();

        using var response = await http.GetAsync(new Uri("/api/v1/host", UriKind.Relative));

        Assert.Equal(418, (int)response.StatusCode);
        Assert.Contains(factory.ContractViolations, v => v.Contains("(GetHost) answered 418", StringComparison.Ordinal));
        var failure = Assert.Throws<InvalidOperationException>(factory.Dispose);
        Assert.Contains("GET /api/v1/host (GetHost) answered 418", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARestartThatFailsIsABadGatewayTheContractDeclares()
    {
        var host = ContainerHosts.Pve8().WithCommand("pct", """
            case "$1" in
              status) echo "status: running" ;;
              reboot) echo "CT 101 is wedged" >&2; exit 1 ;;
              *) exit 2 ;;
            esac
            """);
        using var factory = new GpuLxcApiFactory(host);
        using var http = factory.CreateKeyedClient();

        using var attach = await http.PutAsync(new Uri("/api/v1/containers/101/gpu?restart=true", UriKind.Relative), Json("{}"));
        using var detach = await http.DeleteAsync(new Uri("/api/v1/containers/101/gpu?restart=true", UriKind.Relative));

        var problem = await ProblemResponseTests.AssertProblemAsync(attach, HttpStatusCode.BadGateway);
        Assert.Contains("CT 101 is wedged", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await ProblemResponseTests.AssertProblemAsync(detach, HttpStatusCode.BadGateway);
        await AssertDeclaredAsync(http, "put", "/api/v1/containers/{containerId}/gpu", HttpStatusCode.BadGateway);
        await AssertDeclaredAsync(http, "delete", "/api/v1/containers/{containerId}/gpu", HttpStatusCode.BadGateway);
    }

    [Fact]
    public async Task ContainerZeroIsABadRequestWhoseErrorsNameTheContainerId()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        using var http = factory.CreateKeyedClient();

        using var response = await http.GetAsync(new Uri("/api/v1/containers/0", UriKind.Relative));

        var problem = await ProblemResponseTests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("containerId", out _), problem.GetRawText());
        var declared = await AssertDeclaredAsync(http, "get", "/api/v1/containers/{containerId}", HttpStatusCode.BadRequest);
        Assert.EndsWith("/HttpValidationProblemDetails", declared.GetProperty("content").GetProperty("application/problem+json")
            .GetProperty("schema").GetProperty("$ref").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AQueryValueThatCannotBeBoundIsABadRequestWhoseErrorsNameTheParameter()
    {
        using var factory = new GpuLxcApiFactory(HostFixtures.H100());
        using var http = factory.CreateKeyedClient();

        using var response = await http.GetAsync(new Uri("/api/v1/gpus?refresh=maybe", UriKind.Relative));

        var problem = await ProblemResponseTests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("refresh", out _), problem.GetRawText());
        await AssertDeclaredAsync(http, "get", "/api/v1/gpus", HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task AnUnknownJobIsANotFoundProblemWithItsInstanceAndTraceId()
    {
        using var factory = new GpuLxcApiFactory();
        using var http = factory.CreateKeyedClient();
        const string Job = "/api/v1/jobs/0123456789abcdef0123456789abcdef";

        using var get = await http.GetAsync(new Uri(Job, UriKind.Relative));
        using var log = await http.GetAsync(new Uri($"{Job}/log", UriKind.Relative));
        using var cancel = await http.DeleteAsync(new Uri(Job, UriKind.Relative));

        foreach (var response in new[] { get, log, cancel })
        {
            var problem = await ProblemResponseTests.AssertProblemAsync(response, HttpStatusCode.NotFound);
            Assert.Equal(response.RequestMessage!.RequestUri!.AbsolutePath, problem.GetProperty("instance").GetString());
            Assert.False(string.IsNullOrEmpty(problem.GetProperty("traceId").GetString()));
        }

        await AssertDeclaredAsync(http, "get", "/api/v1/jobs/{jobId}", HttpStatusCode.NotFound);
        await AssertDeclaredAsync(http, "get", "/api/v1/jobs/{jobId}/log", HttpStatusCode.NotFound);
        await AssertDeclaredAsync(http, "delete", "/api/v1/jobs/{jobId}", HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task AnOversizedBodyIsAProblemEveryOperationThatTakesABodyDeclares()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        using var http = factory.CreateKeyedClient();
        var padding = new string(' ', (int)GpuLxcDefaults.MaxRequestBodyBytes);

        using var response = await http.PutAsync(new Uri("/api/v1/containers/101/gpu", UriKind.Relative), Json($$"""{"mode":"raw"{{padding}}}"""));

        await ProblemResponseTests.AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        var withBodies = (await OperationsAsync(http)).Where(o => o.Operation.TryGetProperty("requestBody", out _)).ToList();
        Assert.NotEmpty(withBodies);
        Assert.All(withBodies, o => Assert.True(
            o.Operation.GetProperty("responses").TryGetProperty("413", out _) && o.Operation.GetProperty("responses").TryGetProperty("415", out _),
            $"{o.Method} {o.Path} takes a body but does not declare 413 and 415."));
    }

    [Fact]
    public async Task ABodyThatIsNotJsonIsAnUnsupportedMediaTypeProblemTheContractDeclares()
    {
        using var factory = new GpuLxcApiFactory();
        using var http = factory.CreateKeyedClient(TestKeys.Sessions);

        using var response = await http.PostAsync(new Uri("/api/v1/nvenc/leases", UriKind.Relative),
            new StringContent("holder=ffmpeg", Encoding.UTF8, "application/x-www-form-urlencoded"));

        await ProblemResponseTests.AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
        await AssertDeclaredAsync(http, "post", "/api/v1/nvenc/leases", HttpStatusCode.UnsupportedMediaType);
    }

    /// <summary>No operation exists for the method, so none can declare it: the API description says it once, for every path.</summary>
    [Fact]
    public async Task AWrongMethodIsAProblemTheApiDescriptionDocumentsForEveryPath()
    {
        using var factory = new GpuLxcApiFactory();
        using var http = factory.CreateKeyedClient();

        using var response = await http.DeleteAsync(new Uri("/api/v1/host", UriKind.Relative));

        await ProblemResponseTests.AssertProblemAsync(response, HttpStatusCode.MethodNotAllowed);
        var description = (await DocumentAsync(http)).GetProperty("info").GetProperty("description").GetString();
        Assert.All(RequestProblems.AnyOperation, status =>
            Assert.Contains($"{status.Key} for {status.Value}", description, StringComparison.Ordinal));
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static async Task<JsonElement> DocumentAsync(HttpClient http) =>
        JsonDocument.Parse(await http.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative))).RootElement;

    private static async Task<List<(string Method, string Path, JsonElement Operation)>> OperationsAsync(HttpClient http) =>
        (await DocumentAsync(http)).GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(operation => (operation.Name, path.Name, operation.Value)))
            .ToList();

    /// <summary>The declared response, after asserting that the served document declares it for the operation.</summary>
    private static async Task<JsonElement> AssertDeclaredAsync(HttpClient http, string method, string path, HttpStatusCode status)
    {
        var operation = (await OperationsAsync(http)).Single(o => o.Method == method && o.Path == path).Operation;
        var code = ((int)status).ToString(CultureInfo.InvariantCulture);
        Assert.True(operation.GetProperty("responses").TryGetProperty(code, out var response), $"{method.ToUpperInvariant()} {path} does not declare {code}.");
        return response;
    }
}
