using System.Diagnostics;
using GpuLxc.Api.Tests.Support;
using Microsoft.AspNetCore.Hosting;

namespace GpuLxc.Api.Tests.Browser;

/// <summary>
/// Debian's headless Chromium opens the service on Kestrel: the Swagger UI renders the API's operations, and the
/// Hangfire dashboard renders for an admin key given as browser credentials (and not without them). CI installs
/// chromium; screenshots go to $GPULXC_SCREENSHOTS when it is set.
/// </summary>
public sealed class BrowserRenderTests : IDisposable
{
    private readonly GpuLxcApiFactory _factory = new();
    private readonly string _profile = Directory.CreateTempSubdirectory("gpulxc-chromium-").FullName;

    public void Dispose()
    {
        _factory.Dispose();
        HostTree.DeleteDirectory(_profile);
    }

    [RequiresFact(Prerequisite.Chromium)]
    public async Task SwaggerAndTheDashboardRenderInARealBrowserBehindTheKey()
    {
        var chromium = new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists);
        Assert.True(chromium is not null, Prerequisites.Missing(Prerequisite.Chromium));

        _factory.UseKestrel(0);
        _factory.StartServer();
        var port = _factory.ClientOptions.BaseAddress.Port;

        var swagger = await DumpDom(chromium, $"http://127.0.0.1:{port}/swagger/index.html", "swagger");
        Assert.Contains("/api/v1/gpus", swagger, StringComparison.Ordinal);
        Assert.Contains("/api/v1/containers/{containerId}/gpu", swagger, StringComparison.Ordinal);

        var dashboard = await DumpDom(chromium, $"http://admin:{TestKeys.Admin}@127.0.0.1:{port}/hangfire/servers", "hangfire");
        Assert.Contains("GpuLxc jobs", dashboard, StringComparison.Ordinal);
        Assert.Contains(Environment.MachineName, dashboard, StringComparison.OrdinalIgnoreCase);

        // Without credentials the browser gets the Basic challenge (headless, nobody answers it): no dashboard.
        var refused = await DumpDom(chromium, $"http://127.0.0.1:{port}/hangfire/servers", null);
        Assert.DoesNotContain("GpuLxc jobs", refused, StringComparison.Ordinal);
        Assert.DoesNotContain("Servers", refused, StringComparison.Ordinal);
    }

    private async Task<string> DumpDom(string chromium, string url, string? screenshot)
    {
        var dom = await Chromium(chromium, url, "--dump-dom");
        var screenshots = Environment.GetEnvironmentVariable("GPULXC_SCREENSHOTS");
        if (screenshot is not null && !string.IsNullOrEmpty(screenshots))
        {
            Directory.CreateDirectory(screenshots);
            await Chromium(chromium, url, $"--screenshot={Path.Join(screenshots, screenshot + ".png")}", "--window-size=1280,1000");
        }

        return dom;
    }

    private async Task<string> Chromium(string chromium, string url, params string[] extra)
    {
        var info = new ProcessStartInfo(chromium) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[]
        {
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            $"--user-data-dir={_profile}", "--virtual-time-budget=15000",
        }.Concat(extra).Append(url))
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"chromium exited {process.ExitCode}: {await stderr}");
        return await stdout;
    }
}
