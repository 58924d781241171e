namespace GpuLxc.Api.Infrastructure;

/// <summary>
/// Refuses a declared oversized body before anything reads it. Kestrel enforces the same limit on streamed
/// bodies; this catches the common case early, on any server.
/// </summary>
/// <exception cref="ProblemException"><see cref="RequestProblems.TooLarge"/> (413).</exception>
internal sealed class RequestBodyLimitMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context) =>
        context.Request.ContentLength > GpuLxcDefaults.MaxRequestBodyBytes
            ? throw RequestProblems.TooLarge.With($"The limit is {GpuLxcDefaults.MaxRequestBodyBytes} bytes.")
            : next(context);
}
