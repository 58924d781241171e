using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GpuLxc.Api.Tests.Support;

namespace GpuLxc.Api.Tests.Infrastructure;

/// <summary>
/// A pattern anchored with <c>$</c> also matches before a final newline: an id or version ending in one must be
/// refused as malformed (400 naming the field), never reach a host path.
/// </summary>
public sealed class TrailingNewlineTests
{
    [Theory]
    [InlineData("PUT", "/api/v1/containers/555%0A/gpu")]
    [InlineData("GET", "/api/v1/containers/101%0A/gpu")]
    [InlineData("DELETE", "/api/v1/containers/101%0A/gpu")]
    public async Task AContainerIdEndingInANewlineIs400AndTouchesNothing(string method, string path)
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        using var http = factory.CreateKeyedClient();
        var before = Directory.GetFiles(factory.Host.Root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();

        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative))
        {
            Content = method == "PUT" ? JsonContent.Create(new { }) : null,
        };
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.True(problem.GetProperty("errors").TryGetProperty("containerId", out _));
        Assert.Equal(before, Directory.GetFiles(factory.Host.Root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList());
    }

    [Fact]
    public async Task AVersionEndingInANewlineIs400()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        using var http = factory.CreateKeyedClient();

        using var response = await http.PostAsJsonAsync(new Uri("/api/v1/host/driver/install", UriKind.Relative), new { version = "550.127.05\n" });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }
}
