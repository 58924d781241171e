using System.Security.Cryptography;
using GpuLxc.Api.Tests.Drivers;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Client;

/// <summary>What a user of the generated client gets without writing a handler: headers, typed problems, typed filters.</summary>
public sealed class GeneratedClientTests
{
    private const string Config101 = "/etc/pve/lxc/101.conf";

    [Fact]
    public async Task TheIfMatchWorkflowWorksThroughTheClientAlone()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        var client = factory.CreateGpuLxcClient();
        await client.AttachGpuAsync("101", new AttachRequest());

        var read = await client.GetAttachmentAsync("101");
        Assert.Equal(Sha1Tag(factory.Host.Bytes(Config101)), read.ETag);
        File.AppendAllText(factory.Host.PathOf(Config101), "memory: 4096\n");
        var stale = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() =>
            client.AttachGpuAsync("101", new AttachRequest { Mode = AttachmentMode.Raw }, if_Match: read.ETag));
        var reread = await client.GetAttachmentAsync("101");
        var written = await client.AttachGpuAsync("101", new AttachRequest { Mode = AttachmentMode.Raw }, if_Match: reread.ETag);

        Assert.Equal(412, stale.StatusCode);
        Assert.False(string.IsNullOrEmpty(stale.Result.Fix));
        Assert.Equal(stale.Result.Fix, stale.Problem?.Fix);
        Assert.NotEqual(read.ETag, reread.ETag);
        Assert.True(written.Result.Changed);
        Assert.Equal(Sha1Tag(factory.Host.Bytes(Config101)), written.ETag);
    }

    [Fact]
    public async Task AStartedJobSaysWhereItIsAndWhenToLookAgain()
    {
        using var lab = new DriverLab();
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();

        var accepted = await client.InstallHostDriverAsync(new HostDriverInstallRequest());
        await DriverLab.WaitAsync(client, accepted.Result.Id);

        Assert.Equal(202, accepted.StatusCode);
        Assert.Equal($"/api/v1/jobs/{accepted.Result.Id}", accepted.Location?.OriginalString);
        Assert.True(accepted.RetryAfter > TimeSpan.Zero, $"Retry-After: {accepted.RetryAfter}");
    }

    [Fact]
    public async Task JobsAreFilteredByTheEnumsTheContractDeclares()
    {
        using var lab = new DriverLab();
        using var factory = new GpuLxcApiFactory(lab.Host);
        var client = factory.CreateGpuLxcClient();
        var job = await DriverLab.WaitAsync(client, (await client.InstallHostDriverAsync(new HostDriverInstallRequest())).Result.Id);

        Assert.Equal([job.Id], (await client.ListJobsAsync(state: JobState.Succeeded, kind: JobKind.HostDriverInstall)).Select(j => j.Id));
        Assert.Empty(await client.ListJobsAsync(state: JobState.Failed));
        Assert.Empty(await client.ListJobsAsync(kind: JobKind.DriverResync));
    }

    [Fact]
    public async Task EveryErrorIsATypedProblemWhateverItsStatus()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        var anonymous = new GpuLxcClient(factory.CreateKeyedClient(key: null));
        var client = factory.CreateGpuLxcClient();

        var unauthorized = await Assert.ThrowsAnyAsync<GpuLxcApiException>(() => anonymous.GetHostAsync());
        var invalid = await Assert.ThrowsAnyAsync<GpuLxcApiException>(() => client.ListJobsAsync(limit: 0));
        var missing = await Assert.ThrowsAnyAsync<GpuLxcApiException>(() => client.GetAttachmentAsync("102"));

        Assert.Equal((401, 401), (unauthorized.StatusCode, unauthorized.Problem?.Status));
        Assert.Contains("limit", invalid.Problem!.Errors.Keys);
        Assert.Equal(404, missing.Problem?.Status);
        Assert.False(string.IsNullOrEmpty(missing.Problem?.TraceId));
    }

    private static string Sha1Tag(byte[] bytes) => $"\"{Convert.ToHexStringLower(SHA1.HashData(bytes))}\"";
}
