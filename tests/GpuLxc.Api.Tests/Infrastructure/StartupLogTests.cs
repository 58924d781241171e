using GpuLxc.Api.Tests.Support;

namespace GpuLxc.Api.Tests.Infrastructure;

/// <summary>The service's log after a first start on a fresh data dir, as an operator reads it. Port: a free one.</summary>
public sealed class StartupLogTests : IDisposable
{
    private readonly HostTree _host = HostTree.Proxmox();
    private readonly string _dataDir = Directory.CreateTempSubdirectory("gpulxc-startlog-").FullName;

    public void Dispose()
    {
        _host.Dispose();
        HostTree.DeleteDirectory(_dataDir);
    }

    [Fact]
    public async Task AFirstStartWithConfiguredKeysLogsNoWarning()
    {
        using var service = new ServiceProcess(_host, _dataDir, FreePort());

        await service.WaitUntilAnsweringAsync();
        using var dashboard = await service.Http.GetAsync(new Uri("/hangfire", UriKind.Relative));

        // The data-protection keys are made at this start, unencrypted at rest by choice (DataDirectory says why):
        // the key manager's warning about it would read as a fault.
        Assert.True(Directory.EnumerateFiles(Path.Join(_dataDir, "data-protection")).Any(), "No data-protection key was made.");
        Assert.DoesNotContain("warn:", service.Output, StringComparison.Ordinal);
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
