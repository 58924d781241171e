using System.Diagnostics;
using System.Net;
using System.Text;
using GpuLxc.Api.Attachments;
using GpuLxc.Api.Tests.Support;

namespace GpuLxc.Api.Tests.Attachments;

public sealed class AttachmentConcurrencyTests
{
    [Fact]
    public async Task ParallelAttachesAndDetachesAndAWriterHoldingProxmoxsLockNeverLoseOrDuplicateALine()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        var config = factory.Host.PathOf("/etc/pve/lxc/101.conf");
        var lockFile = factory.Host.PathOf("/run/lock/lxc/pve-config-101.lock");
        Directory.CreateDirectory(Path.GetDirectoryName(lockFile)!);
        string[] bodies = ["{\"mode\":\"raw\"}", "{\"mode\":\"raw\",\"includeModeset\":false}", "{\"mode\":\"dev\"}", "{}"];

        var requests = Enumerable.Range(0, 48).Select(async i =>
        {
            using var http = factory.CreateKeyedClient();
            await Task.Yield();
            if (i % 4 == 3)
            {
                using var delete = await http.DeleteAsync(new Uri("/api/v1/containers/101/gpu", UriKind.Relative));
                return delete.StatusCode;
            }

            using var request = new HttpRequestMessage(HttpMethod.Put, "/api/v1/containers/101/gpu")
            {
                Content = new StringContent(bodies[i % bodies.Length], Encoding.UTF8, "application/json"),
            };
            if (i % 5 == 0)
            {
                // A client that read the config a while ago.
                request.Headers.TryAddWithoutValidation("If-Match", "\"" + new string('0', 40) + "\"");
            }

            using var response = await http.SendAsync(request);
            return response.StatusCode;
        }).ToList();

        // Meanwhile an operator edits the same file by hand, holding the Proxmox lock as Proxmox's tools do.
        var writer = Task.Run(() =>
        {
            for (var n = 0; n < 10; n++)
            {
                using var process = Process.Start(new ProcessStartInfo("flock",
                    [lockFile, "sh", "-c", $"sleep 0.02; printf '#operator note {n}\\n' >> '{config}'"]))!;
                process.WaitForExit();
                Assert.Equal(0, process.ExitCode);
            }
        });

        var statuses = await Task.WhenAll(requests);
        await writer;

        Assert.All(statuses, status => Assert.Contains(status, (HttpStatusCode[])[HttpStatusCode.OK, HttpStatusCode.Conflict, HttpStatusCode.PreconditionFailed]));
        Assert.Contains(HttpStatusCode.OK, statuses);
        var lines = File.ReadAllText(config).Split('\n');
        for (var n = 0; n < 10; n++)
        {
            Assert.Single(lines, line => line == $"#operator note {n}");
        }

        foreach (var original in ContainerHosts.Jellyfin.Split('\n').Where(line => line.Length > 0))
        {
            Assert.Single(lines, line => line == original);
        }

        var managed = lines.Where(line => line.StartsWith("lxc.", StringComparison.Ordinal) || line.StartsWith("dev", StringComparison.Ordinal)).ToList();
        Assert.Equal(managed.Count, managed.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(managed.Count, managed.Select(line => line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..]).Distinct(StringComparer.Ordinal).Count());

        var store = (AttachmentStore)factory.Services.GetService(typeof(AttachmentStore))!;
        var record = await store.FindAsync("101", CancellationToken.None);
        var expected = record?.Lines.Where(l => l.Added).Select(l => $"{l.Key}: {l.Value}").Order(StringComparer.Ordinal).ToList() ?? [];
        Assert.Equal(expected, managed.Order(StringComparer.Ordinal));
    }
}
