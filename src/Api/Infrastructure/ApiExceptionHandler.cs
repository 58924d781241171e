using System.Text.Json;
using System.Text.RegularExpressions;
using GpuLxc.Api.Containers;
using GpuLxc.Api.Jobs;
using Microsoft.AspNetCore.Diagnostics;

namespace GpuLxc.Api.Infrastructure;

/// <summary>
/// The one place where what a request threw becomes its answer (as Incus's <c>SmartError</c>): a
/// <see cref="ProblemException"/> as itself, the few exceptions that carry a meaning of their own through
/// <see cref="ToProblem"/>'s table, bad requests as 4xx problems that say what was wrong, and anything else as a
/// 500 with the trace id only — the stack trace goes to the log, never to the client.
/// </summary>
internal sealed partial class ApiExceptionHandler(IProblemDetailsService problems, ILogger<ApiExceptionHandler> logger)
    : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (httpContext.Response.HasStarted)
        {
            return false;
        }

        var problem = ToProblem(exception);
        if (problem.Problem == RequestProblems.Unexpected)
        {
            LogUnhandled(logger, exception, httpContext.Request.Method, httpContext.Request.Path);
        }
        else if (exception is BadHttpRequestException)
        {
            LogBadRequest(logger, problem.Status, problem.Message);
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

    /// <summary>What a thrown exception is answered with.</summary>
    private static ProblemException ToProblem(Exception exception) => exception switch
    {
        ProblemException problem => problem,
        JobConflictException conflict => JobProblems.ConflictWith(conflict),
        ContainerBackendException failed => ContainerProblems.ManagerFailed.With(failed.Message),
        BadHttpRequestException badRequest => FromBadRequest(badRequest),
        _ => RequestProblems.Unexpected.With("The error was logged. Quote the traceId when reporting it."),
    };

    private static ProblemException FromBadRequest(BadHttpRequestException exception)
    {
        if (exception.InnerException is JsonException json)
        {
            var path = string.IsNullOrEmpty(json.Path) ? "$" : json.Path;
            return new ProblemException(RequestProblems.InvalidJson, null) { Errors = { [path] = [DescribeJsonError(json)] } };
        }

        return exception.StatusCode switch
        {
            StatusCodes.Status400BadRequest => new ProblemException(RequestProblems.Malformed, exception.Message)
            {
                Errors = { [ParameterPattern().Match(exception.Message) is { Success: true } match ? match.Groups["name"].Value : "request"] = [exception.Message] },
            },
            StatusCodes.Status413PayloadTooLarge => RequestProblems.TooLarge.With(exception.Message),
            StatusCodes.Status415UnsupportedMediaType => RequestProblems.UnsupportedMediaType.With(exception.Message),
            var status => (RequestProblems.Malformed with { Status = status }).With(exception.Message),
        };
    }

    /// <summary>System.Text.Json appends the position to its messages; the path already is the error's key.</summary>
    private static string DescribeJsonError(JsonException exception)
    {
        var message = exception.Message;
        var positionAt = message.IndexOf(" Path:", StringComparison.Ordinal);
        return positionAt > 0 ? message[..positionAt] : message;
    }

    /// <summary>The parameter in ASP.NET Core's binding messages: <c>Failed to bind parameter "bool? refresh" from "maybe".</c></summary>
    [GeneratedRegex("parameter \"(?:[^\"]* )?(?<name>[^\" ]+)\"")]
    private static partial Regex ParameterPattern();

    [LoggerMessage(Level = LogLevel.Information, Message = "Rejected a bad request ({StatusCode}): {Reason}")]
    private static partial void LogBadRequest(ILogger logger, int statusCode, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Answered {StatusCode} {Type}: {Detail}")]
    private static partial void LogProblem(ILogger logger, int statusCode, string type, string detail);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled exception for {Method} {Path}")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, string path);
}
