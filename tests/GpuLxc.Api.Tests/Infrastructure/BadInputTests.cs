using System.Net;
using System.Net.Http.Headers;
using System.Text;
using FluentValidation;
using GpuLxc.Api.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace GpuLxc.Api.Tests.Infrastructure;

/// <summary>
/// The request pipeline every GpuLxc endpoint shares (limits, JSON rules, validation filter, problem answers),
/// composed around a probe endpoint and served by Kestrel on a loopback port, as in production.
/// </summary>
public sealed class BadInputTests : IAsyncLifetime, IDisposable
{
    private WebApplication _app = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateBuilder();
        builder.UseGpuLxcDefaults();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddApiProblems();
        builder.Services.AddApiJson();
        builder.Services.AddScoped<IValidator<ProbeRequest>, ProbeRequestValidator>();

        _app = builder.Build();
        _app.UseApiProblems();
        _app.MapPost("/probe", (ProbeRequest request) => TypedResults.Ok(request)).WithValidation<ProbeRequest>();
        _app.MapGet("/boom", string () => throw new InvalidOperationException("secret internals"));
        await _app.StartAsync();

        _http = new HttpClient { BaseAddress = new Uri(_app.Urls.Single()) };
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    public void Dispose() => _http.Dispose();

    [Fact]
    public async Task AValidBodyPasses()
    {
        using var response = await PostAsync("""{"name":"jellyfin","count":2}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task MalformedJsonIsBadRequestProblem()
    {
        using var response = await PostAsync("""{"name": "jellyfin", """);

        var problem = await ProblemResponseTests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.TryGetProperty("errors", out _));
    }

    [Fact]
    public async Task AWrongTypeIsBadRequestProblemNamingTheField()
    {
        using var response = await PostAsync("""{"name":"jellyfin","count":"two"}""");

        var problem = await ProblemResponseTests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("$.count", out _), problem.GetRawText());
    }

    [Fact]
    public async Task AnUnknownFieldIsBadRequestProblem()
    {
        using var response = await PostAsync("""{"name":"jellyfin","count":2,"colour":"red"}""");

        var problem = await ProblemResponseTests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("colour", problem.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task NullForANonNullableFieldIsBadRequestProblem()
    {
        using var response = await PostAsync("""{"name":null,"count":2}""");

        await ProblemResponseTests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task AnEnumAsANumberIsBadRequestProblem()
    {
        using var response = await PostAsync("""{"name":"jellyfin","count":2,"mode":1}""");

        await ProblemResponseTests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task AnEnumAsItsCamelCaseNameIsAccepted()
    {
        using var response = await PostAsync("""{"name":"jellyfin","count":2,"mode":"fastest"}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"mode\":\"fastest\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFailedValidationIsBadRequestProblemWithFieldErrors()
    {
        using var response = await PostAsync("""{"name":"","count":99}""");

        var problem = await ProblemResponseTests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty("name", out _), problem.GetRawText());
        Assert.True(errors.TryGetProperty("count", out _), problem.GetRawText());
    }

    [Fact]
    public async Task AMissingBodyIsBadRequestProblem()
    {
        using var response = await _http.PostAsync(new Uri("/probe", UriKind.Relative), new StringContent("", Encoding.UTF8, "application/json"));

        await ProblemResponseTests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task ANonJsonBodyIsUnsupportedMediaTypeProblem()
    {
        using var response = await _http.PostAsync(new Uri("/probe", UriKind.Relative), new StringContent("name=x", Encoding.UTF8, "text/plain"));

        await ProblemResponseTests.AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
    }

    [Fact]
    public async Task AnOversizedDeclaredBodyIsPayloadTooLargeProblem()
    {
        var padding = new string(' ', (int)GpuLxcDefaults.MaxRequestBodyBytes);
        using var response = await PostAsync($$"""{"name":"x",{{padding}}"count":1}""");

        await ProblemResponseTests.AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task AnOversizedChunkedBodyIsPayloadTooLargeProblem()
    {
        var padding = new string(' ', (int)GpuLxcDefaults.MaxRequestBodyBytes);
        using var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes($$"""{"name":"x",{{padding}}"count":1}""")));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/probe") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        using var response = await _http.SendAsync(request);

        await ProblemResponseTests.AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task AnUnhandledExceptionIsInternalErrorProblemWithoutDetails()
    {
        using var response = await _http.GetAsync(new Uri("/boom", UriKind.Relative));

        var problem = await ProblemResponseTests.AssertProblemAsync(response, HttpStatusCode.InternalServerError);
        Assert.DoesNotContain("secret internals", problem.GetRawText(), StringComparison.Ordinal);
        Assert.True(problem.TryGetProperty("traceId", out _));
    }

    private Task<HttpResponseMessage> PostAsync(string json) =>
        _http.PostAsync(new Uri("/probe", UriKind.Relative), new StringContent(json, Encoding.UTF8, "application/json"));

    public enum ProbeMode
    {
        Careful,
        Fastest,
    }

    public sealed record ProbeRequest(string Name, int Count, ProbeMode Mode = ProbeMode.Careful);

    private sealed class ProbeRequestValidator : AbstractValidator<ProbeRequest>
    {
        public ProbeRequestValidator()
        {
            RuleFor(r => r.Name).NotEmpty();
            RuleFor(r => r.Count).InclusiveBetween(1, 10);
        }
    }
}
