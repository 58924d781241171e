using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using GpuLxc.Api.Tests.Support;
using Hangfire;
using Hangfire.States;
using Hangfire.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace GpuLxc.Api.Tests.Jobs.Hosting;

/// <summary>
/// A browser holding the key as Basic credentials sends it with a form another site posts to /hangfire. Such a
/// request must change nothing: cross-origin posts are 403, posts without the page's anti-forgery token are 403,
/// and the dashboard's own pages (same origin, with the token) still requeue jobs. No page may be framed.
/// </summary>
public sealed partial class DashboardForgeryTests : IDisposable
{
    private readonly GpuLxcApiFactory _factory = new();

    public void Dispose() => _factory.Dispose();

    [Theory]
    [InlineData("Origin", "http://evil.example")]
    [InlineData("Origin", "null")]
    [InlineData("Sec-Fetch-Site", "cross-site")]
    [InlineData("Sec-Fetch-Site", "same-site")]
    public async Task ACrossOriginPostIsRefusedAndRequeuesNothing(string header, string value)
    {
        var (failed, connection) = await AFailedJobAsync();
        using var browser = Browser();
        var (tokenHeader, token) = await TokenFromThePageAsync(browser);

        var enqueuedBefore = Enqueued(failed);
        using var request = Requeue(failed);
        request.Headers.Add(tokenHeader, token);
        request.Headers.Add(header, value);
        using var response = await browser.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(FailedState.StateName, connection.GetJobData(failed)?.State);
    }

    [Fact]
    public async Task APostWithoutTheAntiForgeryTokenIsRefused()
    {
        var (failed, connection) = await AFailedJobAsync();
        using var browser = Browser();

        using var response = await browser.SendAsync(Requeue(failed));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(FailedState.StateName, connection.GetJobData(failed)?.State);
    }

    [Fact]
    public async Task TheDashboardsOwnPostWithItsTokenStillRequeues()
    {
        var (failed, _) = await AFailedJobAsync();
        using var browser = Browser();
        var (tokenHeader, token) = await TokenFromThePageAsync(browser);

        var enqueuedBefore = Enqueued(failed);
        using var request = Requeue(failed);
        request.Headers.Add(tokenHeader, token);
        request.Headers.Add("Origin", browser.BaseAddress!.GetLeftPart(UriPartial.Authority));
        request.Headers.Add("Sec-Fetch-Site", "same-origin");
        using var response = await browser.SendAsync(request);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        // The requeued job may already have run and failed again: its history, not its state, shows the requeue.
        Assert.Equal(enqueuedBefore + 1, Enqueued(failed));
    }

    /// <summary>How many times the job's history says it was enqueued.</summary>
    private int Enqueued(string jobId) =>
        _factory.Services.GetRequiredService<JobStorage>().GetMonitoringApi().JobDetails(jobId).History.Count(state => state.StateName == EnqueuedState.StateName);

    [Fact]
    public async Task NoDashboardPageMayBeFramed()
    {
        using var browser = Browser();
        using var response = await browser.GetAsync(new Uri("/hangfire", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.Contains("frame-ancestors 'none'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
    }

    /// <summary>A client that sends the admin key as the Basic password, as a browser does once it was given it.</summary>
    private HttpClient Browser()
    {
        var browser = _factory.CreateKeyedClient(null);
        browser.DefaultRequestHeaders.Authorization = new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"admin:{TestKeys.Admin}")));
        return browser;
    }

    private static HttpRequestMessage Requeue(string jobId) =>
        new(HttpMethod.Post, new Uri($"/hangfire/jobs/actions/requeue/{jobId}", UriKind.Relative));

    /// <summary>The token Hangfire renders into its pages for its scripts to send back (the cookie half stays in the client).</summary>
    private static async Task<(string Header, string Token)> TokenFromThePageAsync(HttpClient browser)
    {
        var page = await browser.GetStringAsync(new Uri("/hangfire/jobs/failed", UriKind.Relative));
        var header = AntiforgeryHeader().Match(page);
        var token = AntiforgeryToken().Match(page);
        Assert.True(header.Success && token.Success, "the dashboard page carries no anti-forgery token");
        return (WebUtility.HtmlDecode(header.Groups[1].Value), WebUtility.HtmlDecode(token.Groups[1].Value));
    }

    private async Task<(string JobId, IStorageConnection Connection)> AFailedJobAsync()
    {
        var storage = _factory.Services.GetRequiredService<JobStorage>();
        var id = new BackgroundJobClient(storage).Enqueue(() => DashboardJobs.Fail());
        var connection = storage.GetConnection();
        var waited = Stopwatch.StartNew();
        while (connection.GetJobData(id)?.State != FailedState.StateName)
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(30), $"job {id} did not fail");
            await Task.Delay(50);
        }

        return (id, connection);
    }

    [GeneratedRegex("<meta name=\"csrf-header\" content=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryHeader();

    [GeneratedRegex("<meta name=\"csrf-token\" content=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryToken();
}
