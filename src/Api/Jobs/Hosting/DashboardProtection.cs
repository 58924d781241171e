using Microsoft.Net.Http.Headers;

namespace GpuLxc.Api.Jobs.Hosting;

/// <summary>
/// Keeps other web sites away from the dashboard. A browser sends the key it was given as Basic credentials with
/// every request to this origin, including a form another site posts here; so every state-changing request must
/// come from the dashboard's own pages. Two independent checks:
/// <list type="bullet">
/// <item>same origin: a request a browser marks as coming from elsewhere (<c>Sec-Fetch-Site</c> other than
/// <c>same-origin</c>/<c>none</c>, or an <c>Origin</c> that is not this one) is answered 403 before Hangfire sees it;</item>
/// <item>an anti-forgery token: with ASP.NET Core's antiforgery registered, Hangfire puts a token into its pages and
/// answers 403 to a POST without it (for clients that send neither header).</item>
/// </list>
/// Every dashboard answer also forbids framing (<c>X-Frame-Options: DENY</c>, CSP <c>frame-ancestors 'none'</c>), so
/// no page can overlay it to lure clicks.
/// </summary>
internal sealed class DashboardProtection(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (!context.Request.Path.StartsWithSegments(JobHosting.DashboardPath, StringComparison.Ordinal))
        {
            await next(context);
            return;
        }

        context.Response.Headers.XFrameOptions = "DENY";
        context.Response.Headers.ContentSecurityPolicy = "frame-ancestors 'none'";
        if (!IsSafe(context.Request.Method) && !IsSameOrigin(context.Request))
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return;
        }

        await next(context);
    }

    private static bool IsSafe(string method) =>
        HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method);

    /// <summary>
    /// What the browser says about where the request comes from. A client that says nothing (curl, a script with an
    /// admin key) is not a browser tricked by another site; the anti-forgery token still guards it.
    /// </summary>
    internal static bool IsSameOrigin(HttpRequest request)
    {
        var site = request.Headers["Sec-Fetch-Site"].ToString();
        if (site.Length > 0 && site is not ("same-origin" or "none"))
        {
            return false;
        }

        var origin = request.Headers[HeaderNames.Origin].ToString();
        if (origin.Length == 0)
        {
            return true;
        }

        return Uri.TryCreate(origin, UriKind.Absolute, out var uri) &&
               string.Equals(uri.Scheme, request.Scheme, StringComparison.OrdinalIgnoreCase) &&
               string.Equals(uri.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase);
    }
}
