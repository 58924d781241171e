using System.Diagnostics;
using System.Net;
using GpuLxc.Api.Tests.Support;
using Hangfire;
using Hangfire.States;
using Hangfire.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace GpuLxc.Api.Tests.Jobs.Hosting;

/// <summary>
/// The Hangfire dashboard at /hangfire, served from the service's own SQLite job storage: every page renders with
/// real jobs in it, and only for admin keys.
/// </summary>
public sealed class JobDashboardTests : IDisposable
{
    private readonly GpuLxcApiFactory _factory = new();
    private readonly string _gate = Guid.NewGuid().ToString("N");

    public JobDashboardTests()
    {
        _factory.Settings["GpuLxc:Jobs:Node"] = "dash-node";
    }

    public void Dispose()
    {
        DashboardJobs.Release(_gate);
        _factory.Dispose();
    }

    [Fact]
    public async Task EveryPageRendersTheJobsInTheStorage()
    {
        using var http = _factory.CreateKeyedClient();
        var storage = _factory.Services.GetRequiredService<JobStorage>();
        var jobs = new BackgroundJobClient(storage);
        var parked = jobs.Create(() => DashboardJobs.Noop("parked"), new EnqueuedState("parked"));
        var blocking = jobs.Enqueue(() => DashboardJobs.Block(_gate));
        var succeeded = jobs.Enqueue(() => DashboardJobs.Noop("done"));
        var failed = jobs.Enqueue(() => DashboardJobs.Fail());
        var retried = jobs.Enqueue(() => DashboardJobs.FailAndRetryLater());
        var scheduled = jobs.Schedule(() => DashboardJobs.Noop("later"), TimeSpan.FromHours(1));
        new RecurringJobManager(storage).AddOrUpdate("nightly-driver-check", () => DashboardJobs.Noop("nightly"), Cron.Daily());

        using var connection = storage.GetConnection();
        await WaitForState(connection, blocking, ProcessingState.StateName);
        await WaitForState(connection, succeeded, SucceededState.StateName);
        await WaitForState(connection, failed, FailedState.StateName);
        await WaitForState(connection, retried, ScheduledState.StateName);

        var pages = new (string Path, string Expected)[]
        {
            ("/hangfire", "Realtime Graph"),
            ("/hangfire/jobs/enqueued", "parked"),
            ("/hangfire/jobs/enqueued/parked", $"#{parked}"),
            ("/hangfire/jobs/processing", $"#{blocking}"),
            ("/hangfire/jobs/succeeded", $"#{succeeded}"),
            ("/hangfire/jobs/failed", "the driver install broke"),
            ("/hangfire/jobs/scheduled", $"#{scheduled}"),
            ("/hangfire/recurring", "nightly-driver-check"),
            ("/hangfire/retries", $"#{retried}"),
            ("/hangfire/servers", "dash-node"),
            ($"/hangfire/jobs/details/{failed}", "InvalidOperationException"),
        };
        foreach (var (path, expected) in pages)
        {
            using var response = await http.GetAsync(new Uri(path, UriKind.Relative));
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode}");
            Assert.True(body.Contains(expected, StringComparison.Ordinal), $"{path} does not show '{expected}'");
        }
    }

    [Theory]
    [InlineData(null, HttpStatusCode.Unauthorized)]
    [InlineData(TestKeys.Read, HttpStatusCode.Forbidden)]
    [InlineData(TestKeys.ReadAndSessions, HttpStatusCode.Forbidden)]
    [InlineData(TestKeys.Admin, HttpStatusCode.OK)]
    public async Task OnlyAdminKeysSeeTheDashboard(string? key, HttpStatusCode expected)
    {
        using var http = _factory.CreateKeyedClient(key);
        using var response = await http.GetAsync(new Uri("/hangfire/servers", UriKind.Relative));
        Assert.Equal(expected, response.StatusCode);
    }

    [Fact]
    public async Task ABrowserIsAskedForTheKeyAndMaySendItAsTheBasicPassword()
    {
        using var anonymous = _factory.CreateKeyedClient(null);
        using (var challenged = await anonymous.GetAsync(new Uri("/hangfire", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, challenged.StatusCode);
            Assert.Equal("Basic", challenged.Headers.WwwAuthenticate.Single().Scheme);
            Assert.Equal("application/problem+json", challenged.Content.Headers.ContentType?.MediaType);
        }

        foreach (var (key, expected) in new[] { (TestKeys.Admin, HttpStatusCode.OK), (TestKeys.Read, HttpStatusCode.Forbidden), ("wrong-key-0123456789", HttpStatusCode.Unauthorized) })
        {
            using var browser = _factory.CreateKeyedClient(null);
            browser.DefaultRequestHeaders.Authorization = new("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"anyone:{key}")));
            using var response = await browser.GetAsync(new Uri("/hangfire", UriKind.Relative));
            Assert.Equal(expected, response.StatusCode);
        }

        // API routes keep offering Bearer.
        using var api = await anonymous.GetAsync(new Uri("/api/v1/host", UriKind.Relative));
        Assert.Equal("Bearer", api.Headers.WwwAuthenticate.Single().Scheme);
    }

    private static async Task WaitForState(IStorageConnection connection, string id, string state)
    {
        var deadline = Stopwatch.StartNew();
        while (connection.GetJobData(id)?.State != state)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), $"job {id} is {connection.GetJobData(id)?.State}, not {state}");
            await Task.Delay(50);
        }
    }
}

public static class DashboardJobs
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, ManualResetEventSlim> Gates = new();

    public static void Noop(string name) => GC.KeepAlive(name);

    [AutomaticRetry(Attempts = 0)]
    public static void Block(string gate) => Gates.GetOrAdd(gate, _ => new ManualResetEventSlim()).Wait(TimeSpan.FromSeconds(60));

    [AutomaticRetry(Attempts = 0)]
    public static void Fail() => throw new InvalidOperationException("the driver install broke");

    [AutomaticRetry(Attempts = 1, DelaysInSeconds = [3600])]
    public static void FailAndRetryLater() => throw new InvalidOperationException("try again later");

    public static void Release(string gate) => Gates.GetOrAdd(gate, _ => new ManualResetEventSlim()).Set();
}
