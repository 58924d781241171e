using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using GpuLxc.Api.Jobs.Hosting;
using GpuLxc.Api.Tests.Support;
using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Tests.Jobs.Hosting;

/// <summary>
/// Cluster mode against a real PostgreSQL (CI starts one and sets GPULXC_TEST_POSTGRES): two service instances on
/// two ports with two node names share one database; each runs only the jobs queued for its node.
/// </summary>
public sealed class ClusterModeTests : IDisposable
{
    private readonly string? _connectionString = Environment.GetEnvironmentVariable("GPULXC_TEST_POSTGRES");
    private readonly string _schema = "test_" + Guid.NewGuid().ToString("N")[..12];
    private readonly List<GpuLxcApiFactory> _nodes = [];

    public void Dispose()
    {
        _nodes.ForEach(node => node.Dispose());
        if (_connectionString is not null && _nodes.Count > 0)
        {
            using var connection = new Npgsql.NpgsqlConnection(_connectionString);
            connection.Open();
            using var drop = new Npgsql.NpgsqlCommand($"DROP SCHEMA IF EXISTS {_schema} CASCADE", connection);
            drop.ExecuteNonQuery();
        }
    }

    [RequiresFact(Prerequisite.Postgres)]
    public async Task TwoNodesSharingOneDatabaseEachRunOnlyTheirOwnJobs()
    {
        Assert.True(_connectionString is not null, Prerequisites.Missing(Prerequisite.Postgres));

        var alpha = StartNode("pve-alpha");
        var beta = StartNode("pve-beta");
        using var alphaHttp = alpha.CreateKeyedClient();
        using var betaHttp = beta.CreateKeyedClient();
        Assert.NotEqual(alphaHttp.BaseAddress!.Port, betaHttp.BaseAddress!.Port);

        foreach (var (http, node) in new[] { (alphaHttp, "pve-alpha"), (betaHttp, "pve-beta") })
        {
            var ready = await WaitUntilReady(http);
            var jobs = ready.GetProperty("checks").GetProperty("jobs").GetProperty("detail").GetString()!;
            Assert.Contains("PostgreSQL", jobs, StringComparison.OrdinalIgnoreCase);
            Assert.Contains(node, jobs, StringComparison.Ordinal);
        }

        var queues = new Dictionary<string, string>
        {
            ["pve-alpha"] = alpha.Services.GetRequiredService<JobHostingOptions>().LocalQueue,
            ["pve-beta"] = beta.Services.GetRequiredService<JobHostingOptions>().LocalQueue,
        };
        Assert.Equal("node_pve_alpha", queues["pve-alpha"]);

        // Both kinds of job are enqueued through alpha's storage: where a job runs follows its queue, not its origin.
        var client = new BackgroundJobClient(alpha.Services.GetRequiredService<JobStorage>());
        var expected = new Dictionary<string, string>();
        for (var i = 0; i < 10; i++)
        {
            foreach (var node in queues.Keys)
            {
                var marker = $"{_schema}-{node}-{i}";
                expected[marker] = node;
                client.Create(Job.FromExpression<NodeProbe>(probe => probe.Record(marker)), new EnqueuedState(queues[node]));
            }
        }

        var deadline = Stopwatch.StartNew();
        while (expected.Keys.Any(marker => !NodeProbe.RanOn.ContainsKey(marker)) && deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(100);
        }

        foreach (var (marker, node) in expected)
        {
            Assert.True(NodeProbe.RanOn.TryGetValue(marker, out var ranOn), $"{marker} never ran");
            Assert.Equal(node, ranOn);
        }

        var servers = alpha.Services.GetRequiredService<JobStorage>().GetMonitoringApi().Servers();
        Assert.Contains(servers, s => s.Name.StartsWith("pve-alpha:", StringComparison.Ordinal) && s.Queues.Contains("node_pve_alpha") && !s.Queues.Contains("node_pve_beta"));
        Assert.Contains(servers, s => s.Name.StartsWith("pve-beta:", StringComparison.Ordinal) && s.Queues.Contains("node_pve_beta") && !s.Queues.Contains("node_pve_alpha"));
    }

    [Fact]
    public void PostgresWithoutAConnectionStringStopsTheServiceWithTheSettingNamed()
    {
        using var factory = new GpuLxcApiFactory();
        factory.Settings["GpuLxc:Jobs:Storage"] = "postgres";
        var refused = Assert.Throws<OptionsValidationException>(() => factory.CreateClient());
        Assert.Contains("GpuLxc:Jobs:ConnectionString", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GpuLxc:Jobs:Storage", "redis")]
    [InlineData("GpuLxc:Jobs:Node", "bad node;name")]
    [InlineData("GpuLxc:Jobs:Workers", "0")]
    public void BadJobSettingsStopTheServiceWithTheSettingNamed(string key, string value)
    {
        using var factory = new GpuLxcApiFactory();
        factory.Settings[key] = value;
        var refused = Assert.Throws<OptionsValidationException>(() => factory.CreateClient());
        Assert.Contains(key, refused.Message, StringComparison.Ordinal);
    }

    private GpuLxcApiFactory StartNode(string node)
    {
        var factory = new GpuLxcApiFactory();
        factory.Settings["GpuLxc:Jobs:Storage"] = "postgres";
        factory.Settings["GpuLxc:Jobs:ConnectionString"] = _connectionString;
        factory.Settings["GpuLxc:Jobs:Schema"] = _schema;
        factory.Settings["GpuLxc:Jobs:Node"] = node;
        factory.UseKestrel(0);
        _nodes.Add(factory);
        factory.StartServer();
        return factory;
    }

    private static async Task<JsonElement> WaitUntilReady(HttpClient http)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            using var response = await http.GetAsync(new Uri("/readyz", UriKind.Relative));
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            if (response.IsSuccessStatusCode || deadline.Elapsed > TimeSpan.FromSeconds(30))
            {
                Assert.True(response.IsSuccessStatusCode, body.ToString());
                return body;
            }

            await Task.Delay(100);
        }
    }
}

/// <summary>A job resolved from the running node's services; it records which node ran it.</summary>
public sealed class NodeProbe(JobHostingOptions options)
{
    public static ConcurrentDictionary<string, string> RanOn { get; } = new();

    public void Record(string marker) => RanOn.AddOrUpdate(marker, options.Node, (_, first) => $"{first},{options.Node}");
}
