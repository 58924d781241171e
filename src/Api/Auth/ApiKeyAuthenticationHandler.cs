using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Auth;

/// <summary>
/// Reads the key from <c>Authorization: Bearer</c> or <c>X-Api-Key</c>, or, for browsers, from HTTP Basic with the
/// key as the password (any user name); answers 401/403 as problem+json. The dashboard's 401 also offers Basic, so
/// a browser asks for the key itself.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    ApiKeyStore store,
    IProblemDetailsService problems)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string HeaderName = "X-Api-Key";

    /// <summary>Pages people open in a browser (the Hangfire dashboard).</summary>
    public const string BrowserPath = "/hangfire";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var presented = ReadPresentedKey(Request);
        if (presented is null)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var identity = store.Find(presented);
        if (identity is null)
        {
            return Task.FromResult(AuthenticateResult.Fail("The API key is not valid."));
        }

        var claims = new List<Claim> { new(ClaimTypes.Name, identity.Name) };
        claims.AddRange(identity.Scopes.Select(scope => new Claim(Scopes.ClaimType, scope)));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName));
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = Request.Path.StartsWithSegments(BrowserPath)
            ? "Basic realm=\"GpuLxc\", charset=\"UTF-8\""
            : "Bearer realm=\"GpuLxc\"";
        await WriteProblemAsync(StatusCodes.Status401Unauthorized, "An API key is required.",
            result.Failure?.Message ?? $"Send a key as 'Authorization: Bearer <key>' or '{HeaderName}: <key>'.");
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        var scope = Context.GetEndpoint()?.Metadata.GetMetadata<RequiredScope>()?.Scope ?? Scopes.Admin;
        await WriteProblemAsync(StatusCodes.Status403Forbidden, "The API key lacks the required scope.",
            $"The key '{Context.User.Identity?.Name}' does not have the '{scope}' scope this operation needs.");
    }

    private Task WriteProblemAsync(int status, string title, string detail) =>
        problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail },
        }).AsTask();

    private static string? ReadPresentedKey(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            var token = authorization["Bearer ".Length..].Trim();
            if (token.Length > 0)
            {
                return token;
            }
        }

        if (authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase) && BasicPassword(authorization["Basic ".Length..]) is { Length: > 0 } password)
        {
            return password;
        }

        var header = request.Headers[HeaderName].ToString().Trim();
        return header.Length > 0 ? header : null;
    }

    /// <summary>The password of <c>Basic base64(user:password)</c>; null when the credentials are malformed.</summary>
    private static string? BasicPassword(string encoded)
    {
        Span<byte> decoded = stackalloc byte[512];
        if (!Convert.TryFromBase64String(encoded.Trim(), decoded, out var length))
        {
            return null;
        }

        var credentials = System.Text.Encoding.UTF8.GetString(decoded[..length]);
        var colon = credentials.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? null : credentials[(colon + 1)..];
    }
}
