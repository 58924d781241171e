using System.Net;
using System.Text;
using System.Text.Json;
using GpuLxc.Api.Tests.Support;

namespace GpuLxc.Api.Tests.Infrastructure;

/// <summary>
/// The data dir holds the API key, the databases and the data-protection keys: it is 0700 and its files 0600
/// however the service is started, also when an earlier start (or a hand-made directory) left them wider; and the
/// anonymous readiness answer names no path or node.
/// </summary>
public sealed class DataDirectoryModeTests : IDisposable
{
    private readonly GpuLxcApiFactory _factory = new();

    public void Dispose() => _factory.Dispose();

    [Fact]
    public async Task TheDataDirAndEveryFileInItAreTheOwnersAloneEvenWhenTheyWereWider()
    {
        var dir = _factory.DataDir;
        File.SetUnixFileMode(dir, (UnixFileMode)0b111_101_101);
        var left = Path.Join(dir, "left-by-an-older-version.txt");
        await File.WriteAllTextAsync(left, "x");
        File.SetUnixFileMode(left, (UnixFileMode)0b110_100_100);

        using var http = _factory.CreateKeyedClient(null);
        http.DefaultRequestHeaders.Authorization = new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"admin:{TestKeys.Admin}")));
        // A dashboard page makes an anti-forgery token, and so a data-protection key; a lease writes gpulxc.db.
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/hangfire", UriKind.Relative))).StatusCode);
        using var api = _factory.CreateKeyedClient();
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync(new Uri("/api/v1/nvenc", UriKind.Relative))).StatusCode);

        Assert.Equal("700", Mode(dir));
        var files = Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).ToList();
        Assert.Contains(files, f => Path.GetFileName(f) == "gpulxc.db");
        Assert.Contains(files, f => Path.GetFileName(f) == "jobs.db");
        Assert.Contains(files, f => Path.GetFileName(f) == "jobs.db-wal");
        Assert.Contains(files, f => f.Contains("/data-protection/", StringComparison.Ordinal));
        foreach (var file in files)
        {
            Assert.True(Mode(file) == "600", $"{Path.GetRelativePath(dir, file)} is {Mode(file)}, not 600");
        }

        foreach (var sub in Directory.EnumerateDirectories(dir, "*", SearchOption.AllDirectories))
        {
            Assert.True(Mode(sub) == "700", $"{Path.GetRelativePath(dir, sub)}/ is {Mode(sub)}, not 700");
        }
    }

    [Fact]
    public async Task AnAnonymousReadinessAnswerGivesStatusesOnlyAndAKeyedOneTheDetail()
    {
        using var anonymous = _factory.CreateKeyedClient(null);
        var body = await anonymous.GetStringAsync(new Uri("/readyz", UriKind.Relative));
        var checks = JsonDocument.Parse(body).RootElement.GetProperty("checks");
        Assert.Equal("healthy", checks.GetProperty("dataDir").GetProperty("status").GetString());
        Assert.False(checks.GetProperty("dataDir").TryGetProperty("detail", out _), body);
        Assert.DoesNotContain(_factory.DataDir, body, StringComparison.Ordinal);
        Assert.DoesNotContain("node", body, StringComparison.OrdinalIgnoreCase);

        using var keyed = _factory.CreateKeyedClient(TestKeys.Read);
        var detailed = await keyed.GetStringAsync(new Uri("/readyz", UriKind.Relative));
        Assert.Contains(_factory.DataDir, detailed, StringComparison.Ordinal);
    }

    private static string Mode(string path) => Convert.ToString((int)File.GetUnixFileMode(path), 8);
}
