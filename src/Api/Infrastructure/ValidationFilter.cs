using FluentValidation;

namespace GpuLxc.Api.Infrastructure;

/// <summary>Validates the endpoint's <typeparamref name="T"/> argument before the handler runs.</summary>
/// <exception cref="ProblemException"><see cref="RequestProblems.Invalid"/> (400), with each failing field in <c>errors</c>.</exception>
internal sealed class ValidationFilter<T>(IValidator<T> validator) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        foreach (var argument in context.Arguments.OfType<T>())
        {
            var result = await validator.ValidateAsync(argument, context.HttpContext.RequestAborted);
            if (!result.IsValid)
            {
                var problem = RequestProblems.Invalid.With(null);
                foreach (var (field, messages) in result.ToDictionary())
                {
                    problem.Errors[field] = messages;
                }

                throw problem;
            }
        }

        return await next(context);
    }
}

public static class ValidationFilterExtensions
{
    /// <summary>Validates <typeparamref name="T"/> with its FluentValidation validator and declares the 400 response.</summary>
    public static RouteHandlerBuilder WithValidation<T>(this RouteHandlerBuilder builder) =>
        builder.AddEndpointFilter<ValidationFilter<T>>().Problems(RequestProblems.Invalid);
}
