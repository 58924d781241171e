using GpuLxc.Api.Tests.Support;

namespace GpuLxc.Api.Tests.Infrastructure;

/// <summary>The checked-in contract (and so the generated client) is exactly what the service serves.</summary>
public sealed class OpenApiContractTests
{
    [Fact]
    public async Task CheckedInDocumentMatchesTheRunningService()
    {
        using var factory = new GpuLxcApiFactory();
        using var http = factory.CreateKeyedClient(key: null);
        var served = Normalize(await http.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative)));
        var path = Path.Join(Repository.Root, "openapi", "gpulxc-v1.json");

        var checkedIn = File.Exists(path) ? Normalize(await File.ReadAllTextAsync(path)) : "";
        Assert.True(served == checkedIn,
            "openapi/gpulxc-v1.json differs from the document the service serves. Regenerate it with " +
            "'scripts/update-openapi.sh', review the diff, and commit it; the client is regenerated from it at build.");
    }

    private static string Normalize(string json) => json.ReplaceLineEndings("\n").TrimEnd() + "\n";
}
