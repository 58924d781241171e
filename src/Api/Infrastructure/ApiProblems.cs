using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;

namespace GpuLxc.Api.Infrastructure;

/// <summary>
/// Every error the service answers is RFC 9457 problem+json, whoever produces it, and every status a route can
/// answer is declared on it: its problems with <see cref="Problems"/>, the request-level ones by
/// <see cref="DeclareRequestProblems"/>, authentication's by <c>RequireApiKeyScopes</c>.
/// </summary>
public static class ApiProblems
{
    public static IServiceCollection AddApiProblems(this IServiceCollection services)
    {
        services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
            context.ProblemDetails.Instance ??= context.HttpContext.Request.Path);
        AnyAcceptProblemWriter.Wrap(services);
        services.AddExceptionHandler<ApiExceptionHandler>();
        return services;
    }

    public static WebApplication UseApiProblems(this WebApplication app)
    {
        app.UseExceptionHandler();
        // Unknown routes (404), wrong methods (405) and every other empty error response get a problem body.
        app.UseStatusCodePages();
        app.UseMiddleware<RequestBodyLimitMiddleware>();
        return app;
    }

    /// <summary>
    /// Declares the statuses of the <paramref name="problems"/> the route can answer — the same catalogue entries
    /// its services throw. A 400 is declared as <see cref="HttpValidationProblemDetails"/>: every 400 has <c>errors</c>.
    /// </summary>
    public static RouteHandlerBuilder Problems(this RouteHandlerBuilder builder, params ApiProblem[] problems)
    {
        foreach (var status in problems.Select(p => p.Status).Distinct().Order())
        {
            _ = status == StatusCodes.Status400BadRequest ? builder.ProducesValidationProblem() : builder.ProducesProblem(status);
        }

        return builder;
    }

    /// <summary>
    /// Declares on every endpoint of the group that takes a body what any body can be refused with: 400 (not valid
    /// JSON for the operation), 413 (<see cref="RequestProblems.TooLarge"/>) and 415 (not JSON). Applied last, so
    /// that it sees the body the endpoint's handler reads.
    /// </summary>
    public static RouteGroupBuilder DeclareRequestProblems(this RouteGroupBuilder group)
    {
        ((IEndpointConventionBuilder)group).Finally(endpoint =>
        {
            if (endpoint.Metadata.OfType<IAcceptsMetadata>().FirstOrDefault() is null)
            {
                return;
            }

            var declared = endpoint.Metadata.OfType<IProducesResponseTypeMetadata>().Select(m => m.StatusCode).ToHashSet();
            if (!declared.Contains(StatusCodes.Status400BadRequest))
            {
                endpoint.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status400BadRequest, typeof(HttpValidationProblemDetails), [ProblemJson]));
            }

            endpoint.Metadata.Add(new ProducesResponseTypeMetadata(RequestProblems.TooLarge.Status, typeof(ProblemDetails), [ProblemJson]));
            endpoint.Metadata.Add(new ProducesResponseTypeMetadata(RequestProblems.UnsupportedMediaType.Status, typeof(ProblemDetails), [ProblemJson]));
        });
        return group;
    }

    private const string ProblemJson = "application/problem+json";
}
