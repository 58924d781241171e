using System.Net;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Metrics;

public sealed class MetricsEndpointTests
{
    [Fact]
    public async Task MetricsNeedTheReadScopeAndExportTheBudgetAttachmentsGpusAndHttpRequests()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        factory.Settings["GpuLxc:Nvenc:LimitOverride"] = "5";
        factory.Settings["GpuLxc:Metrics:RefreshSeconds"] = "1";
        var client = factory.CreateGpuLxcClient();
        await client.AttachGpuAsync("101", new AttachRequest { Mode = AttachmentMode.Raw });
        await client.GetNvencAsync();
        using var anonymous = factory.CreateKeyedClient(key: null);
        using var transcoder = factory.CreateKeyedClient(TestKeys.Sessions);
        using var reader = factory.CreateKeyedClient(TestKeys.Read);

        using var unauthorized = await anonymous.GetAsync(new Uri("/metrics", UriKind.Relative));
        using var forbidden = await transcoder.GetAsync(new Uri("/metrics", UriKind.Relative));
        var text = await WaitForAsync(reader, "gpulxc_attachments{drift=\"inSync\"} 1");

        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        Assert.Contains("gpulxc_nvenc_limit{budget=\"host\"} 5", text, StringComparison.Ordinal);
        Assert.Contains("gpulxc_nvenc_observed{budget=\"host\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("gpulxc_gpu_encoder_sessions{gpu=\"0000:01:00.0\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("gpulxc_gpu_encoder_utilization{gpu=\"0000:01:00.0\"} 9", text, StringComparison.Ordinal);
        Assert.Contains("http_route=\"/api/v1/containers/{containerId}/gpu\"", text, StringComparison.Ordinal);
        Assert.Contains("gpulxc_jobs{state=\"running\"} 0", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task JobsAreCountedByState()
    {
        using var lab = new Drivers.DriverLab();
        lab.GuestDriver(Drivers.DriverLab.HostVersion, Drivers.DriverLab.HostVersion);
        using var factory = new GpuLxcApiFactory(lab.Host);
        factory.Settings["GpuLxc:Metrics:RefreshSeconds"] = "1";
        var client = factory.CreateGpuLxcClient();
        await Drivers.DriverLab.AttachAsync(client);
        var verify = await Drivers.DriverLab.WaitAsync(client, (await client.VerifyContainerGpuAsync("101")).Result.Id);
        Assert.Equal(JobState.Succeeded, verify.State);

        using var reader = factory.CreateKeyedClient(TestKeys.Read);
        var text = await WaitForAsync(reader, "gpulxc_jobs{state=\"succeeded\"} 1");
        Assert.Contains("gpulxc_jobs{state=\"failed\"} 0", text, StringComparison.Ordinal);
        Assert.Contains("gpulxc_jobs{state=\"queued\"} 0", text, StringComparison.Ordinal);
    }

    /// <summary>The host gauges come from a snapshot taken every second here: poll until it has the attachment.</summary>
    private static async Task<string> WaitForAsync(HttpClient http, string expected)
    {
        var text = "";
        for (var attempt = 0; attempt < 40 && !text.Contains(expected, StringComparison.Ordinal); attempt++)
        {
            if (attempt > 0)
            {
                await Task.Delay(500);
            }

            text = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        }

        Assert.Contains(expected, text, StringComparison.Ordinal);
        return text;
    }
}
