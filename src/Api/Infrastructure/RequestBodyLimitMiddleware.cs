using Microsoft.AspNetCore.Mvc;

namespace GpuLxc.Api.Infrastructure;

/// <summary>
/// Refuses a declared oversized body before anything reads it. Kestrel enforces the same limit on streamed
/// bodies; this catches the common case early, on any server.
/// </summary>
internal sealed class RequestBodyLimitMiddleware(RequestDelegate next, IProblemDetailsService problems)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (context.Request.ContentLength > GpuLxcDefaults.MaxRequestBodyBytes)
        {
            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            await problems.WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails = new ProblemDetails
                {
                    Status = StatusCodes.Status413PayloadTooLarge,
                    Title = "The request body is too large.",
                    Detail = $"The limit is {GpuLxcDefaults.MaxRequestBodyBytes} bytes.",
                },
            });
            return;
        }

        await next(context);
    }
}
