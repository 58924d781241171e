using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;

namespace GpuLxc.Api.Tests.Support;

/// <summary>The check every integration test runs under fails where it should, so that its silence means something.</summary>
public sealed class ContractCheckFacts
{
    private const string CompleteProblem = """{"type":"urn:x","title":"t","status":409,"instance":"/api/v1/things","traceId":"00-1"}""";

    [Fact]
    public async Task Check_RecordsAViolation_WhenTheOperationDoesNotDeclareTheStatus()
    {
        var violations = await AnswerAsync(StatusCodes.Status409Conflict, CompleteProblem, declared: StatusCodes.Status200OK);

        Assert.Contains(violations, v => v.Contains("answered 409, which its contract does not declare (200)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Check_RecordsNothing_WhenADeclaredProblemIsComplete()
    {
        var violations = await AnswerAsync(StatusCodes.Status409Conflict, CompleteProblem, declared: StatusCodes.Status409Conflict);

        Assert.Empty(violations);
    }

    [Fact]
    public async Task Check_RecordsAViolation_WhenABadRequestHasNoErrors()
    {
        var violations = await AnswerAsync(StatusCodes.Status400BadRequest, CompleteProblem.Replace("409", "400", StringComparison.Ordinal),
            declared: StatusCodes.Status400BadRequest);

        Assert.Contains(violations, v => v.Contains("without errors", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Check_RecordsAViolation_WhenAProblemHasNoTraceId()
    {
        var violations = await AnswerAsync(StatusCodes.Status409Conflict, CompleteProblem.Replace(",\"traceId\":\"00-1\"", "", StringComparison.Ordinal),
            declared: StatusCodes.Status409Conflict);

        Assert.Contains(violations, v => v.Contains("without traceId", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Check_RecordsAViolation_WhenAnErrorIsPlainJson()
    {
        var violations = await AnswerAsync(StatusCodes.Status409Conflict, CompleteProblem, declared: StatusCodes.Status409Conflict, contentType: "application/json");

        Assert.Contains(violations, v => v.Contains("not application/problem+json", StringComparison.Ordinal));
    }

    /// <summary>Runs one request through the check, to an operation that declares <paramref name="declared"/> and answers as given.</summary>
    private static async Task<IReadOnlyCollection<string>> AnswerAsync(int status, string body, int declared, string contentType = "application/problem+json")
    {
        var check = new ContractCheck();
        var app = new ApplicationBuilder(new ServiceCollection().BuildServiceProvider());
        check.Configure(inner => inner.Run(async context =>
        {
            context.Response.StatusCode = status;
            context.Response.ContentType = contentType;
            await context.Response.WriteAsync(body);
        }))(app);
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Path = "/api/v1/things";
        context.Response.Body = new MemoryStream();
        context.SetEndpoint(new RouteEndpoint(_ => Task.CompletedTask, RoutePatternFactory.Parse("/api/v1/things"), 0,
            new EndpointMetadataCollection(new ProducesResponseTypeMetadata(declared)), "things"));

        await app.Build()(context);

        Assert.Equal(body, Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray()));
        return check.Violations;
    }
}
