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

    /// <summary>Every step in a detach and in an attach; a detach first, so that the chain's first attach survives and shows the attached file.</summary>
    private static readonly (string Step, string Action)[] Kills = Steps.SelectMany(step => new[] { (step, "detach"), (step, "attach") }).ToArray();

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
        var slowestStart = results.SelectMany(r => r.Times).Max(t => t.Answering);
        var slowest = results.SelectMany(r => r.Times).Max(t => t.Consistent - t.Answering);
        output.WriteLine($"{kills} kills ({results.Sum(r => r.Kills.Count(k => k.StartsWith("attach", StringComparison.Ordinal)))} in attach, " +
                         $"{results.Sum(r => r.Kills.Count(k => k.StartsWith("detach", StringComparison.Ordinal)))} in detach), {checks} checks after restarts, " +
                         $"longest process start to first answer {slowestStart.TotalMilliseconds:0} ms, longest first answer to consistent state " +
                         $"{slowest.TotalMilliseconds:0} ms, total {total.Elapsed.TotalSeconds:0.0} s");
        foreach (var kill in results.SelectMany(r => r.Kills).GroupBy(k => k).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            output.WriteLine($"  {kill.Key}: {kill.Count()}");
        }

        Assert.True(kills >= 50, $"{kills} kills");
        // Consistent at the first answer: nothing waits for a timeout. (The start itself is the machine's.)
        Assert.True(slowest < TimeSpan.FromSeconds(15), $"{slowest.TotalSeconds:0.0} s from the first answer to a consistent state");
    }

    private sealed record ChainResult(List<string> Kills, int Checks, List<(TimeSpan Answering, TimeSpan Consistent)> Times);

    private static async Task<ChainResult> RunChainAsync(HostTree host, string container, string body, int port)
    {
        using var _ = host;
        var dataDir = Directory.CreateTempSubdirectory("gpulxc-crash-").FullName;
        try
        {
            var config = $"/etc/pve/lxc/{container}.conf";
            var state = new Chain(host, dataDir, container, config, host.Bytes(config));
            var kills = new List<string>();
            var times = new List<(TimeSpan, TimeSpan)>();
            foreach (var (step, action) in Kills)
            {
                // The check's DELETE is a write when the last kill left the lines in; after it, attach and detach alternate.
                var write = (state.AttachedOnDisk ? 1 : 0) + (action == "attach" ? 1 : 2);
                using var service = new ServiceProcess(host, dataDir, port,
                    new Dictionary<string, string> { [CrashPoints.Variable] = $"{step}#{write.ToString(System.Globalization.CultureInfo.InvariantCulture)}" });
                times.Add(await state.CheckAsync(service));
                var killed = await state.WriteUntilKilledAsync(service, body);
                Assert.Equal(action, killed);
                kills.Add($"{killed} at {step}");
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
    /// attach that returns shows (the chain's first kill is in a detach, after a completed attach).
    /// </summary>
    private sealed class Chain(HostTree host, string dataDir, string container, string config, byte[] before)
    {
        private byte[]? _attached;

        /// <summary>Whether the config on disk is the attached file.</summary>
        public bool AttachedOnDisk => _attached is not null && host.Bytes(config).SequenceEqual(_attached);

        /// <summary>Every check a restart must pass; returns the times from the process's start until it answered and until it held.</summary>
        public async Task<(TimeSpan Answering, TimeSpan Consistent)> CheckAsync(ServiceProcess service)
        {
            await service.WaitUntilAnsweringAsync();
            var answering = service.Started.Elapsed;
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

            return (answering, consistent);
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
                catch (Exception e) when (e is HttpRequestException or System.Net.Sockets.SocketException)
                {
                    // Killed while the request connected: .NET can let the socket's ENOTCONN out unwrapped.
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
