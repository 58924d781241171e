using System.Net;
using System.Security.Cryptography;
using System.Text;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Attachments;

/// <summary>
/// Issue 15: the config file is the truth — lines GpuLxc wrote are found from the file when the record is missing —
/// and a refused or dry-run request leaves no trace on the host.
/// </summary>
public sealed class AttachmentRecoveryTests
{
    private const string Config101 = "/etc/pve/lxc/101.conf";

    [Theory]
    [InlineData(AttachmentMode.Dev)]
    [InlineData(AttachmentMode.Raw)]
    public async Task LinesGpuLxcWroteAreReadAndDetachedFromTheConfigWhenTheirRecordIsGone(AttachmentMode mode)
    {
        using var host = ContainerHosts.Pve8();
        var original = host.Bytes(Config101);
        using (var first = new GpuLxcApiFactory(host, ownsHost: false))
        {
            await first.CreateGpuLxcClient().AttachGpuAsync("101", new AttachRequest { Mode = mode, IncludeModeset = false });
        }

        // A new data dir: gpulxc.db knows nothing of the attachment (an older build killed before its record, a lost database).
        using var next = new GpuLxcApiFactory(host, ownsHost: false);
        var client = next.CreateGpuLxcClient();
        var found = (await client.GetAttachmentAsync("101")).Result;
        var detached = (await client.DetachGpuAsync("101")).Result;

        Assert.Equal(mode, found.Mode);
        Assert.Equal(DriftStatus.InSync, found.Drift.Status);
        Assert.All(found.Lines, line => Assert.True(line.Present));
        Assert.True(detached.Changed);
        Assert.Equal(original, host.Bytes(Config101));
        Assert.Equal(404, (await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.GetAttachmentAsync("101"))).StatusCode);
    }

    [Fact]
    public async Task APutOverLinesWithoutARecordClaimsThemSoThatALaterDeleteRemovesThem()
    {
        using var host = ContainerHosts.Pve8();
        var original = host.Bytes(Config101);
        using (var first = new GpuLxcApiFactory(host, ownsHost: false))
        {
            await first.CreateGpuLxcClient().AttachGpuAsync("101", new AttachRequest());
        }

        using var next = new GpuLxcApiFactory(host, ownsHost: false);
        var client = next.CreateGpuLxcClient();
        var again = (await client.AttachGpuAsync("101", new AttachRequest())).Result;
        await client.DetachGpuAsync("101");

        Assert.False(again.Changed);
        Assert.Equal(original, host.Bytes(Config101));
    }

    [Fact]
    public async Task AnIncompleteSetOfGpuLinesWrittenByHandIsNotClaimed()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        var client = factory.CreateGpuLxcClient();
        var planned = (await client.AttachGpuAsync("101", new AttachRequest { Mode = AttachmentMode.Raw }, dryRun: true)).Result;
        // Every planned line but the last, as someone copying a guide might have left it.
        var handWritten = Encoding.UTF8.GetString(factory.Host.Bytes(Config101)) + string.Join("\n", planned.Added.SkipLast(1)) + "\n";
        factory.Host.WithContainer("101", handWritten, "running");

        var detached = (await client.DetachGpuAsync("101")).Result;

        Assert.False(detached.Changed);
        Assert.Equal(handWritten, Encoding.UTF8.GetString(factory.Host.Bytes(Config101)));
        Assert.Equal(404, (await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.GetAttachmentAsync("101"))).StatusCode);
    }

    [Fact]
    public async Task RefusedAndDryRunRequestsCreateNoFileUnderTheHostRoot()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8().WithContainer("103", "arch: amd64\nhostname: busy\nlock: backup\n"));
        using var http = factory.CreateKeyedClient();
        using (var warm = await http.GetAsync(new Uri("/api/v1/containers", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }

        var before = Snapshot(factory.Host.Root);
        var stale = "\"" + new string('0', 40) + "\"";
        (HttpMethod Method, string Path, string? Body, string? IfMatch, HttpStatusCode Status)[] requests =
        [
            (HttpMethod.Put, "/api/v1/containers/555/gpu", "{}", null, HttpStatusCode.NotFound),
            (HttpMethod.Put, "/api/v1/containers/555/gpu?dryRun=true", "{}", null, HttpStatusCode.NotFound),
            (HttpMethod.Delete, "/api/v1/containers/555/gpu", null, null, HttpStatusCode.NotFound),
            (HttpMethod.Delete, "/api/v1/containers/555/gpu?dryRun=true", null, null, HttpStatusCode.NotFound),
            (HttpMethod.Put, "/api/v1/containers/abc/gpu", "{}", null, HttpStatusCode.BadRequest),
            (HttpMethod.Put, "/api/v1/containers/101/gpu", "{}", stale, HttpStatusCode.PreconditionFailed),
            (HttpMethod.Delete, "/api/v1/containers/101/gpu", null, stale, HttpStatusCode.PreconditionFailed),
            (HttpMethod.Put, "/api/v1/containers/103/gpu", "{}", null, HttpStatusCode.Conflict),
            (HttpMethod.Put, "/api/v1/containers/101/gpu", "{\"gpus\":[\"0000:99:00.0\"]}", null, HttpStatusCode.Conflict),
            (HttpMethod.Put, "/api/v1/containers/101/gpu?dryRun=true", "{}", null, HttpStatusCode.OK),
            (HttpMethod.Delete, "/api/v1/containers/101/gpu?dryRun=true", null, null, HttpStatusCode.OK),
            (HttpMethod.Delete, "/api/v1/containers/102/gpu", null, null, HttpStatusCode.OK),
            (HttpMethod.Get, "/api/v1/containers/101/gpu", null, null, HttpStatusCode.NotFound),
        ];

        foreach (var (method, path, body, ifMatch, status) in requests)
        {
            using var request = new HttpRequestMessage(method, path);
            if (body is not null)
            {
                request.Content = new StringContent(body, Encoding.UTF8, "application/json");
            }

            if (ifMatch is not null)
            {
                request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
            }

            using var response = await http.SendAsync(request);
            Assert.True(response.StatusCode == status, $"{method} {path}: {response.StatusCode}, not {status}");
        }

        Assert.Equal(before, Snapshot(factory.Host.Root));
        Assert.False(Directory.Exists(Path.Join(factory.DataDir, "backups")));
    }

    [Fact]
    public async Task ConfigBackupsAreTheServiceOwnersAlone()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());

        await factory.CreateGpuLxcClient().AttachGpuAsync("101", new AttachRequest());

        const UnixFileMode Directory0700 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        foreach (var directory in new[] { "backups", "backups/proxmox", "backups/proxmox/101" })
        {
            Assert.Equal(Directory0700, File.GetUnixFileMode(Path.Join(factory.DataDir, directory)));
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Directory.GetFiles(Path.Join(factory.DataDir, "backups/proxmox/101")).Single()));
    }

    /// <summary>
    /// Every path under the root with its mode and, for a regular file, its SHA-256 (device nodes under <c>/dev</c>
    /// are not read; symlinks are not followed).
    /// </summary>
    private static List<string> Snapshot(string root) =>
        new DirectoryInfo(root).EnumerateFileSystemInfos("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Select(entry => $"{Path.GetRelativePath(root, entry.FullName)} {entry.UnixFileMode} " + (entry switch
            {
                { LinkTarget: { } target } => target,
                FileInfo file when !Path.GetRelativePath(root, file.FullName).StartsWith("dev/", StringComparison.Ordinal) =>
                    Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file.FullName))),
                _ => "-",
            }))
            .Order(StringComparer.Ordinal)
            .ToList();
}
