using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.Tests.Support;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace GpuLxc.Api.Tests.Attachments;

/// <summary>
/// Issue 15: the service killed with SIGKILL in the middle of an attach or a detach. Each kill is a real process
/// (<see cref="ServiceProcess"/>) that kills itself at one step of the write (<see cref="CrashPoints"/>); the next start
/// over the same host and data dir must find the config byte-for-byte the old or the new file, the record agreeing
/// with it, no temporary file, and a DELETE that removes every line GpuLxc wrote.
/// </summary>
public sealed class AttachmentCrashTests(ITestOutputHelper output)
{
    private static readonly string[] Steps =
    [
        CrashPoints.BackupWritten, CrashPoints.IntentWritten, CrashPoints.TemporaryCreated,
        CrashPoints.TemporaryWritten, CrashPoints.Renamed, CrashPoints.Recorded,
    ];

    /// <summary>
    /// Which write dies: the 2nd or 3rd of the process. The first may be the check's DELETE (when the kill left the
    /// lines in), which must survive so that every restart is checked in full; after it, attaches and detaches
    /// alternate, so kills land in both.
    /// </summary>
    private static readonly int[] Writes = [2, 3];

    [Fact]
    public async Task KillingTheServiceAtEveryStepOfAttachAndDetachLeavesTheConfigOldOrNewAndTheRecordAgreeingWithIt()
    {
        var chains = new (string Name, Func<HostTree> Host, string Container, string Body, int Port)[]
        {
            ("dev entries", ContainerHosts.Pve8, "101", "{}", 5160),
            ("raw lines", ContainerHosts.Pve8, "101", "{\"mode\":\"raw\"}", 5161),
            ("dev without optional nodes", ContainerHosts.Pve8, "102", "{\"mode\":\"dev\",\"includeModeset\":false,\"includeUvmTools\":false}", 5162),
            ("cgroup v1 raw", () => ContainerHosts.Pve6().WithContainer("200", ContainerHosts.Jellyfin), "200", "{}", 5163),
            ("raw without uvm tools", ContainerHosts.Pve8, "102", "{\"mode\":\"raw\",\"includeUvmTools\":false}", 5164),
        };
        var results = new ConcurrentBag<ChainResult>();
        var total = Stopwatch.StartNew();

        await Task.WhenAll(chains.Select(c => Task.Run(async () => results.Add(await RunChainAsync(c.Host(), c.Container, c.Body, c.Port)))));

        var kills = results.Sum(r => r.Kills.Count);
        var checks = results.Sum(r => r.Checks);
        var slowest = results.SelectMany(r => r.TimesToConsistent).Max();
        output.WriteLine($"{kills} kills ({results.Sum(r => r.Kills.Count(k => k.StartsWith("attach", StringComparison.Ordinal)))} in attach, " +
                         $"{results.Sum(r => r.Kills.Count(k => k.StartsWith("detach", StringComparison.Ordinal)))} in detach), {checks} checks after restarts, " +
                         $"longest restart to consistent state {slowest.TotalMilliseconds:0} ms, total {total.Elapsed.TotalSeconds:0.0} s");
        foreach (var kill in results.SelectMany(r => r.Kills).GroupBy(k => k).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            output.WriteLine($"  {kill.Key}: {kill.Count()}");
        }

        Assert.True(kills >= 50, $"{kills} kills");
        Assert.Contains(results.SelectMany(r => r.Kills), k => k.StartsWith("attach", StringComparison.Ordinal));
        Assert.Contains(results.SelectMany(r => r.Kills), k => k.StartsWith("detach", StringComparison.Ordinal));
        Assert.True(slowest < TimeSpan.FromSeconds(30), $"{slowest.TotalSeconds:0.0} s from start to a consistent state");
    }

    private sealed record ChainResult(List<string> Kills, int Checks, List<TimeSpan> TimesToConsistent);

    private static async Task<ChainResult> RunChainAsync(HostTree host, string container, string body, int port)
    {
        using var _ = host;
        var dataDir = Directory.CreateTempSubdirectory("gpulxc-crash-").FullName;
        try
        {
            var config = $"/etc/pve/lxc/{container}.conf";
            var state = new Chain(host, dataDir, container, config, host.Bytes(config));
            var kills = new List<string>();
            var times = new List<TimeSpan>();
            foreach (var step in Steps)
            {
                foreach (var write in Writes)
                {
                    using var service = new ServiceProcess(host, dataDir, port,
                        new Dictionary<string, string> { [CrashPoints.Variable] = $"{step}#{write.ToString(System.Globalization.CultureInfo.InvariantCulture)}" });
                    times.Add(await state.CheckAsync(service));
                    kills.Add($"{await state.WriteUntilKilledAsync(service, body)} at {step}");
                }
            }

            using (var last = new ServiceProcess(host, dataDir, port))
            {
                times.Add(await state.CheckAsync(last));
            }

            return new ChainResult(kills, times.Count, times);
        }
        finally
        {
            HostTree.DeleteDirectory(dataDir);
        }
    }

    /// <summary>
    /// One container's run. Every file it may find is <c>before</c> (no GPU lines) or the attached file, which the first
    /// attach that returns shows (the first write of a process always survives, see <see cref="Writes"/>).
    /// </summary>
    private sealed class Chain(HostTree host, string dataDir, string container, string config, byte[] before)
    {
        private byte[]? _attached;

        /// <summary>Every check a restart must pass; returns the time from the process's start until it held.</summary>
        public async Task<TimeSpan> CheckAsync(ServiceProcess service)
        {
            await service.WaitUntilAnsweringAsync();
            var directory = Path.GetDirectoryName(host.PathOf(config))!;
            Assert.Empty(Directory.GetFiles(directory, "*.tmp"));
            var bytes = host.Bytes(config);
            var isAttached = _attached is not null && bytes.SequenceEqual(_attached);
            Assert.True(isAttached || bytes.SequenceEqual(before), $"The config is neither the old nor the new file:\n{Encoding.UTF8.GetString(bytes)}");

            using (var get = await service.Http.GetAsync(new Uri($"/api/v1/containers/{container}/gpu", UriKind.Relative)))
            {
                var text = await get.Content.ReadAsStringAsync();
                if (isAttached)
                {
                    Assert.True(get.StatusCode == HttpStatusCode.OK, $"GET {get.StatusCode} with the lines in the config: {text}");
                    using var json = JsonDocument.Parse(text);
                    Assert.Equal("inSync", json.RootElement.GetProperty("drift").GetProperty("status").GetString());
                    Assert.All(json.RootElement.GetProperty("lines").EnumerateArray(), line => Assert.True(line.GetProperty("present").GetBoolean()));
                    Assert.Equal($"\"{Convert.ToHexStringLower(SHA1.HashData(bytes))}\"", get.Headers.ETag!.Tag);
                }
                else
                {
                    Assert.True(get.StatusCode == HttpStatusCode.NotFound, $"GET {get.StatusCode} without the lines in the config: {text}");
                }
            }

            var consistent = service.Started.Elapsed;
            Assert.Equal(0L, OpenIntents());

            using (var delete = await service.Http.DeleteAsync(new Uri($"/api/v1/containers/{container}/gpu", UriKind.Relative)))
            {
                var text = await delete.Content.ReadAsStringAsync();
                Assert.True(delete.StatusCode == HttpStatusCode.OK, $"DELETE {delete.StatusCode}: {text}");
                using var json = JsonDocument.Parse(text);
                Assert.Equal(isAttached, json.RootElement.GetProperty("changed").GetBoolean());
            }

            Assert.Equal(before, host.Bytes(config));
            using (var get = await service.Http.GetAsync(new Uri($"/api/v1/containers/{container}/gpu", UriKind.Relative)))
            {
                Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
            }

            return consistent;
        }

        /// <summary>Attaches and detaches in turn until the process kills itself; which of the two it was in.</summary>
        public async Task<string> WriteUntilKilledAsync(ServiceProcess service, string body)
        {
            for (var i = 0; i < 6; i++)
            {
                var action = i % 2 == 0 ? "attach" : "detach";
                try
                {
                    var status = action == "attach" ? await AttachAsync(service, container, body) : await DetachAsync(service, container);
                    Assert.Equal(HttpStatusCode.OK, status);
                    var now = host.Bytes(config);
                    _attached ??= action == "attach" ? now : null;
                    Assert.Equal(action == "attach" ? _attached : before, now);
                }
                catch (HttpRequestException)
                {
                    Assert.Equal(137, await service.WaitForExitAsync(TimeSpan.FromSeconds(10)));
                    return action;
                }
            }

            throw new InvalidOperationException($"The service was not killed:\n{service.Output}");
        }

        private long OpenIntents()
        {
            using var connection = new SqliteConnection($"Data Source={Path.Join(dataDir, GpuLxcDatabase.FileName)};Pooling=False");
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT COUNT(*) FROM attachment_intent";
            return (long)command.ExecuteScalar()!;
        }
    }

    private static async Task<HttpStatusCode> AttachAsync(ServiceProcess service, string container, string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await service.Http.PutAsync(new Uri($"/api/v1/containers/{container}/gpu", UriKind.Relative), content);
        return response.StatusCode;
    }

    private static async Task<HttpStatusCode> DetachAsync(ServiceProcess service, string container)
    {
        using var response = await service.Http.DeleteAsync(new Uri($"/api/v1/containers/{container}/gpu", UriKind.Relative));
        return response.StatusCode;
    }
}
