using Microsoft.AspNetCore.Mvc;

namespace GpuLxc.Api.Infrastructure;

/// <summary>
/// A request the service understood but cannot carry out: one <see cref="ApiProblem"/> of a feature's catalogue
/// with what happened this time. Services and handlers throw it; <see cref="ApiExceptionHandler"/> alone answers
/// it, as problem+json with the problem's status, type and title, the detail, <c>fix</c>, the <see cref="Extensions"/>,
/// <c>errors</c> (a 400) and the <see cref="Headers"/>. In a job, the step it escapes fails with
/// <c>preconditionFailed</c> and the same message and fix (<c>JobContext.StepAsync</c>).
/// </summary>
public sealed class ProblemException(ApiProblem problem, string? detail, string? fix = null) : Exception(detail ?? problem.Title)
{
    public ApiProblem Problem { get; } = problem;

    public int Status => Problem.Status;

    public string Title => Problem.Title;

    public string? Detail { get; } = detail;

    public string? Fix { get; } = fix;

    /// <summary>Field name or JSON path → what is wrong with it; answered as the <c>errors</c> member every 400 has.</summary>
    public Dictionary<string, string[]> Errors { get; } = new(StringComparer.Ordinal);

    /// <summary>Further members of the body, e.g. <c>jobId</c> or <c>retryAfterSeconds</c>.</summary>
    public Dictionary<string, object?> Extensions { get; } = new(StringComparer.Ordinal);

    /// <summary>Headers of the answer, e.g. <c>Location</c> of a conflicting job or <c>Retry-After</c>.</summary>
    public Dictionary<string, string> Headers { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The body: an <see cref="HttpValidationProblemDetails"/> for a 400, so that every 400 carries <c>errors</c>.</summary>
    public ProblemDetails ToProblemDetails()
    {
        var details = Status == StatusCodes.Status400BadRequest ? new HttpValidationProblemDetails(Errors) : new ProblemDetails();
        details.Status = Status;
        details.Type = Problem.Type;
        details.Title = Title;
        details.Detail = Detail;
        foreach (var (name, value) in Extensions)
        {
            details.Extensions[name] = value;
        }

        if (Fix is not null)
        {
            details.Extensions["fix"] = Fix;
        }

        return details;
    }
}
