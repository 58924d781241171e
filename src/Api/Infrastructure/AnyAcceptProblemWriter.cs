using Microsoft.Net.Http.Headers;

namespace GpuLxc.Api.Infrastructure;

/// <summary>
/// Writes every problem as problem+json whatever the request's <c>Accept</c> says. ASP.NET Core's own writer declines
/// when <c>Accept</c> names no JSON type (a client of the <c>text/event-stream</c> events route, <c>Accept:
/// text/plain</c>), which leaves an error status with an empty body; a caller should always learn why it was refused.
/// Wraps the framework's writer so its defaults (type, title, <c>traceId</c>, our customisation) still apply.
/// </summary>
internal sealed class AnyAcceptProblemWriter(IProblemDetailsWriter inner) : IProblemDetailsWriter
{
    public bool CanWrite(ProblemDetailsContext context) => true;

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        if (!inner.CanWrite(context))
        {
            context.HttpContext.Request.Headers[HeaderNames.Accept] = "application/problem+json";
        }

        return inner.WriteAsync(context);
    }

    /// <summary>Replaces the framework's registered writer with this wrapper around it; call after <c>AddProblemDetails</c>.</summary>
    public static void Wrap(IServiceCollection services)
    {
        var framework = services.Last(d => d.ServiceType == typeof(IProblemDetailsWriter) && d.ImplementationType is not null);
        services.Remove(framework);
        var type = framework.ImplementationType!;
        services.Add(ServiceDescriptor.Describe(typeof(IProblemDetailsWriter),
            sp => new AnyAcceptProblemWriter((IProblemDetailsWriter)ActivatorUtilities.CreateInstance(sp, type)), framework.Lifetime));
    }
}
