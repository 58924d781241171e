using Microsoft.AspNetCore.Http.Features;

namespace GpuLxc.Api.Infrastructure;

public static class GpuLxcDefaults
{
    /// <summary>Loopback only unless the operator says otherwise (<c>Urls</c>).</summary>
    public const string DefaultUrl = "http://127.0.0.1:5080";

    /// <summary>No request this API accepts is anywhere near this size; larger bodies are refused with 413.</summary>
    public const long MaxRequestBodyBytes = 1024 * 1024;

    public static WebApplicationBuilder UseGpuLxcDefaults(this WebApplicationBuilder builder)
    {
        builder.ReportStartupFailures();
        if (string.IsNullOrWhiteSpace(builder.Configuration["Urls"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = MaxRequestBodyBytes;
        });
        builder.Services.Configure<FormOptions>(form => form.MultipartBodyLengthLimit = MaxRequestBodyBytes);

        // Bad input must reach our exception handler as a BadHttpRequestException (with its reason) in every
        // environment, so that it is answered as problem+json with the cause rather than an empty 400.
        builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        return builder;
    }
}
