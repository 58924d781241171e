using System.Net;
using System.Text.Json;
using GpuLxc.Api.Auth;
using GpuLxc.Api.Tests.Support;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace GpuLxc.Api.Tests.Auth;

/// <summary>Every /api route, enumerated from the running app, refuses missing keys and keys without its scope.</summary>
public sealed class AuthMatrixTests
{
    [Fact]
    public async Task EveryApiRouteWithoutAKeyIsUnauthorizedProblem()
    {
        using var factory = new GpuLxcApiFactory();
        using var http = factory.CreateKeyedClient(key: null);

        foreach (var route in ApiRoutes(factory))
        {
            using var response = await http.SendAsync(route.ToRequest());

            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{route} answered {(int)response.StatusCode} without a key");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Contains("Bearer", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task EveryApiRouteWithAnUnknownKeyIsUnauthorized()
    {
        using var factory = new GpuLxcApiFactory();
        using var http = factory.CreateKeyedClient("not-a-key-that-exists-anywhere");

        foreach (var route in ApiRoutes(factory))
        {
            using var response = await http.SendAsync(route.ToRequest());

            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{route} answered {(int)response.StatusCode} to an unknown key");
            var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal("The API key is not valid.", problem.GetProperty("detail").GetString());
        }
    }

    [Fact]
    public async Task EveryApiRouteWithAKeyLackingItsScopeIsForbiddenProblem()
    {
        using var factory = new GpuLxcApiFactory();

        foreach (var route in ApiRoutes(factory))
        {
            var key = route.Scope switch
            {
                Scopes.Read => TestKeys.Sessions,
                Scopes.Sessions => TestKeys.Read,
                _ => TestKeys.ReadAndSessions,
            };
            using var http = factory.CreateKeyedClient(key);
            using var response = await http.SendAsync(route.ToRequest());

            Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{route} answered {(int)response.StatusCode} to a key without '{route.Scope}'");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Contains($"'{route.Scope}'", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task EveryApiRouteWithAnAdminKeyPassesAuthorization()
    {
        using var factory = new GpuLxcApiFactory();
        using var http = factory.CreateKeyedClient(TestKeys.Admin);

        foreach (var route in ApiRoutes(factory))
        {
            // Headers only: the events route answers with a stream that never ends by itself.
            using var response = await http.SendAsync(route.ToRequest(), HttpCompletionOption.ResponseHeadersRead);

            Assert.NotEqual(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.NotEqual(HttpStatusCode.Forbidden, response.StatusCode);
        }
    }

    [Fact]
    public void EveryApiRouteIsNamedAndDeclaresItsScope()
    {
        using var factory = new GpuLxcApiFactory();

        var endpoints = factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.StartsWith("/api/", StringComparison.Ordinal) == true)
            .ToList();

        Assert.NotEmpty(endpoints);
        Assert.All(endpoints, e => Assert.NotNull(e.Metadata.GetMetadata<IEndpointNameMetadata>()));
        Assert.All(endpoints, e => Assert.NotNull(e.Metadata.GetMetadata<RequiredScope>()));
    }

    [Fact]
    public async Task AKeyWorksInTheXApiKeyHeaderToo()
    {
        using var factory = new GpuLxcApiFactory();
        using var http = factory.CreateKeyedClient(key: null);
        http.DefaultRequestHeaders.Add("X-Api-Key", TestKeys.Read);

        using var response = await http.GetAsync(new Uri("/api/v1/host", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static List<ApiRoute> ApiRoutes(GpuLxcApiFactory factory)
    {
        var routes = factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.StartsWith("/api/", StringComparison.Ordinal) == true)
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"])
                .Select(method => new ApiRoute(method, SampleUrl(e.RoutePattern), e.Metadata.GetMetadata<RequiredScope>()?.Scope ?? "?")))
            .ToList();
        Assert.NotEmpty(routes);
        return routes;
    }

    /// <summary>Fills every route parameter with a value its constraints accept.</summary>
    private static string SampleUrl(Microsoft.AspNetCore.Routing.Patterns.RoutePattern pattern) =>
        "/" + string.Join('/', pattern.PathSegments.Select(segment => string.Concat(segment.Parts.Select(part => part switch
        {
            Microsoft.AspNetCore.Routing.Patterns.RoutePatternLiteralPart literal => literal.Content,
            Microsoft.AspNetCore.Routing.Patterns.RoutePatternParameterPart => "100",
            _ => "",
        }))));

    private sealed record ApiRoute(string Method, string Url, string Scope)
    {
        public HttpRequestMessage ToRequest()
        {
            var request = new HttpRequestMessage(new HttpMethod(Method), Url);
            if (Method is "POST" or "PUT" or "PATCH")
            {
                request.Content = new StringContent("{}", System.Text.Encoding.UTF8, "application/json");
            }

            return request;
        }

        public override string ToString() => $"{Method} {Url}";
    }
}
