using Microsoft.AspNetCore.Http.HttpResults;

namespace GpuLxc.Api.Infrastructure;

/// <summary>
/// A request the service understood but cannot carry out, with the status to answer and, where there is one, the fix.
/// Handlers catch it and answer problem+json (<see cref="ToResult"/>); it never reaches the exception handler's 500.
/// </summary>
public class ProblemException(int status, string title, string detail, string? fix = null) : Exception(detail)
{
    public int Status { get; } = status;

    public string Title { get; } = title;

    public string? Fix { get; } = fix;

    public ProblemHttpResult ToResult() =>
        TypedResults.Problem(statusCode: Status, title: Title, detail: Message,
            extensions: Fix is null ? null : new Dictionary<string, object?> { ["fix"] = Fix });
}
