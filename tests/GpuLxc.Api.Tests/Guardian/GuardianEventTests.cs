using GpuLxc.Api.Events;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;
using Microsoft.Extensions.DependencyInjection;

namespace GpuLxc.Api.Tests.Guardian;

/// <summary>What the guardian reports of a host that changed under it without a module change.</summary>
public sealed class GuardianEventTests
{
    [Fact]
    public async Task ADriverUpgradedButNotLoadedIsAReportedRebootNeed()
    {
        using var factory = new GpuLxcApiFactory(HostFixtures.UpgradedNotRebooted());
        var client = factory.CreateGpuLxcClient();

        var guardian = await UpgradeGuardianTests.FirstCheckAsync(client);
        var reboot = Assert.Single(factory.Services.GetRequiredService<EventLog>().After(0), e => e.Type == EventTypes.RebootNeeded);

        Assert.True(guardian.Host!.RebootNeeded);
        Assert.Equal(("418.152.00", "418.226.00"), (guardian.Host.LoadedVersion, guardian.Host.InstalledVersion));
        Assert.Equal(("driverUpgraded", "418.152.00", "418.226.00"), ((string?)reboot.Data["reason"], (string?)reboot.Data["loaded"], (string?)reboot.Data["installed"]));
    }

    [Fact]
    public async Task AMovedMajorIsReportedWithBothNumbers()
    {
        using var host = HostFixtures.Seed();
        using var factory = new GpuLxcApiFactory(host, ownsHost: false);
        factory.Settings["GpuLxc:Guardian:CheckSeconds"] = "1";
        var client = factory.CreateGpuLxcClient();
        var first = await UpgradeGuardianTests.FirstCheckAsync(client);

        host.WithFile("/proc/devices", "Character devices:\n  1 mem\n195 nvidia-frontend\n509 nvidia-uvm\n\nBlock devices:\n  8 sd\n");
        var moved = await MovedAsync(factory);

        Assert.Equal(243, first.Host!.Majors["nvidia-uvm"]);
        Assert.Equal(("nvidia-uvm", 243, 509), ((string?)moved.Data["device"], (int?)moved.Data["previous"], (int?)moved.Data["current"]));
    }

    private static async Task<GpuLxcEvent> MovedAsync(GpuLxcApiFactory factory)
    {
        for (var i = 0; i < 200; i++)
        {
            if (factory.Services.GetRequiredService<EventLog>().After(0).FirstOrDefault(e => e.Type == EventTypes.MajorsChanged) is { } moved)
            {
                return moved;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("No host.majorsChanged within 10 s of the change.");
    }
}
