using GpuLxc.Api.Containers;
using GpuLxc.Api.Jobs;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Infrastructure;

/// <summary>
/// The one place where what a request threw becomes its answer (as Incus's <c>SmartError</c>): a
/// <see cref="ProblemException"/> as itself, the few exceptions that carry a meaning of their own through
/// <see cref="ToProblem"/>'s table, requests the framework refused as 4xx problems in the API's own terms
/// (<see cref="BadRequests"/>; the framework's words go to the log), and anything else as a 500 with the trace id
/// only — the stack trace goes to the log, never to the client.
/// </summary>
internal sealed partial class ApiExceptionHandler(
    IProblemDetailsService problems, IOptions<JsonOptions> json, ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (httpContext.Response.HasStarted)
        {
            return false;
        }

        var problem = exception is BadHttpRequestException badRequest ? BadRequests.ToProblem(badRequest, BodyType(httpContext), json.Value.SerializerOptions) : ToProblem(exception);
        if (problem.Problem == RequestProblems.Unexpected)
        {
            LogUnhandled(logger, exception, httpContext.Request.Method, httpContext.Request.Path);
        }
        else if (exception is BadHttpRequestException)
        {
            LogBadRequest(logger, problem.Status, exception.InnerException?.Message ?? exception.Message);
        }
        else
        {
            LogProblem(logger, problem.Status, problem.Problem.Type, problem.Message);
        }

        httpContext.Response.StatusCode = problem.Status;
        foreach (var (name, value) in problem.Headers)
        {
            httpContext.Response.Headers[name] = value;
        }

        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem.ToProblemDetails() });
    }

    /// <summary>The body type of the operation that threw (the handler clears the endpoint; its feature keeps it).</summary>
    private static Type? BodyType(HttpContext context) =>
        (context.Features.Get<IExceptionHandlerFeature>()?.Endpoint ?? context.GetEndpoint())?.Metadata
        .OfType<IAcceptsMetadata>().Select(accepts => accepts.RequestType).FirstOrDefault(type => type is not null);

    /// <summary>What a thrown exception is answered with.</summary>
    private static ProblemException ToProblem(Exception exception) => exception switch
    {
        ProblemException problem => problem,
        JobConflictException conflict => JobProblems.ConflictWith(conflict),
        ContainerBackendException failed => ContainerProblems.ManagerFailed.With(failed.Message),
        _ => RequestProblems.Unexpected.With("The error was logged. Quote the traceId when reporting it."),
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Rejected a bad request ({StatusCode}): {Reason}")]
    private static partial void LogBadRequest(ILogger logger, int statusCode, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Answered {StatusCode} {Type}: {Detail}")]
    private static partial void LogProblem(ILogger logger, int statusCode, string type, string detail);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled exception for {Method} {Path}")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, string path);
}
