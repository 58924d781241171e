using Microsoft.AspNetCore.Authentication;
using GpuLxc.Api.Infrastructure;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Auth;

public static class ApiKeyAuthentication
{
    public static IServiceCollection AddApiKeyAuthentication(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ApiKeyOptions>().Bind(configuration.GetSection(ApiKeyOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ApiKeyOptions>, ApiKeyOptionsValidator>());
        // Built at start-up: the generated key exists (and its path is logged) before the first request.
        services.AddEagerSingleton<ApiKeyStore>();

        // Resolved first by a handler, which runs after authentication: the principal is the key's by then.
        services.AddHttpContextAccessor();
        services.AddScoped(provider => Caller.From(provider.GetRequiredService<IHttpContextAccessor>().HttpContext?.User));

        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);

        var authorization = services.AddAuthorizationBuilder();
        foreach (var scope in Scopes.All)
        {
            authorization.AddPolicy(Scopes.PolicyName(scope), policy => policy
                .RequireAuthenticatedUser()
                .RequireAssertion(context =>
                    context.User.HasClaim(Scopes.ClaimType, scope) || context.User.HasClaim(Scopes.ClaimType, Scopes.Admin)));
        }

        return services;
    }

    /// <summary>Declares the scope an endpoint needs, overriding the per-method default of its group.</summary>
    public static TBuilder RequireScope<TBuilder>(this TBuilder builder, string scope)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RequiredScope(scope));

    /// <summary>
    /// Every endpoint of the group needs a key: the scope it declared with <see cref="RequireScope{TBuilder}"/>, or
    /// <c>read</c> for GET and <c>admin</c> for anything else. Applied last so that it sees the endpoint's own metadata.
    /// </summary>
    public static RouteGroupBuilder RequireApiKeyScopes(this RouteGroupBuilder group)
    {
        ((IEndpointConventionBuilder)group).Finally(endpoint =>
        {
            var scope = endpoint.Metadata.OfType<RequiredScope>().LastOrDefault();
            if (scope is null)
            {
                var methods = endpoint.Metadata.OfType<HttpMethodMetadata>().SelectMany(m => m.HttpMethods).ToList();
                scope = new RequiredScope(methods.Count > 0 && methods.All(m => m is "GET" or "HEAD") ? Scopes.Read : Scopes.Admin);
                endpoint.Metadata.Add(scope);
            }

            endpoint.Metadata.Add(new AuthorizeAttribute { Policy = Scopes.PolicyName(scope.Scope) });
            endpoint.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status401Unauthorized,
                typeof(Microsoft.AspNetCore.Mvc.ProblemDetails), ["application/problem+json"]));
            endpoint.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status403Forbidden,
                typeof(Microsoft.AspNetCore.Mvc.ProblemDetails), ["application/problem+json"]));
        });
        return group;
    }
}
