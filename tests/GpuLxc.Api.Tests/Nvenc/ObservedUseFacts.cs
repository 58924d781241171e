using GpuLxc.Api.Nvenc;

namespace GpuLxc.Api.Tests.Nvenc;

public sealed class ObservedUseFacts
{
    private const string Host = ObservedUse.HostHolder;

    [Fact]
    public void InUse_SumsTheLargerOfLeasesAndSessionsPerHolder_WhenContainersAndTheHostHoldBoth()
    {
        // 101: 1 lease, 2 sessions; 102: 2 leases, none running yet; host: 1 lease, 1 host session + 1 unattributed.
        var observed = new ObservedUse(new Dictionary<string, int> { ["101"] = 2, [Host] = 2 }, Unnamed: 0);

        var inUse = observed.InUse(["101", "102", "102", null]);

        Assert.Equal(2 + 2 + 2, inUse);
    }

    [Fact]
    public void InUse_CountsUnleasedEncodesOfOneContainer_WhenAnotherContainerHoldsTheLeases()
    {
        // The machine-wide max(4 leases, 2 sessions) would say 4 and leave room for two sessions too many.
        var observed = new ObservedUse(new Dictionary<string, int> { ["101"] = 2 }, Unnamed: 0);

        Assert.Equal(6, observed.InUse(["102", "102", "102", "102"]));
    }

    [Fact]
    public void InUse_CountsALeasedSessionOnce_WhenItsOwnContainerRunsIt()
    {
        var observed = new ObservedUse(new Dictionary<string, int> { ["101"] = 1 }, Unnamed: 0);

        Assert.Equal(1, observed.InUse(["101"]));
    }

    [Fact]
    public void InUse_CountsHostSessionsAgainstHostLeases_WhenTheLeasesNameNoContainer()
    {
        var observed = new ObservedUse(new Dictionary<string, int> { [Host] = 2 }, Unnamed: 0);

        Assert.Equal((2, 3), (observed.InUse([null, null]), observed.InUse([null, null, null])));
    }

    [Fact]
    public void InUse_AddsSessionsTheDriverOnlyCounts_WhateverLeasesAreHeld()
    {
        var observed = new ObservedUse(new Dictionary<string, int>(), Unnamed: 2);

        Assert.Equal((2, 3, 4), (observed.InUse([]), observed.InUse([null]), observed.InUse(["160", null])));
    }

    [Fact]
    public void InUse_IsTheLeaseCount_WhenNothingIsObserved()
    {
        var observed = new ObservedUse(new Dictionary<string, int>(), Unnamed: 0);

        Assert.Equal(3, observed.InUse(["101", null, "102"]));
    }

    [Fact]
    public void Total_CountsNamedAndUnnamedSessions_WhateverTheirHolders()
    {
        var observed = new ObservedUse(new Dictionary<string, int> { ["101"] = 2, ["102"] = 1, [Host] = 1 }, Unnamed: 3);

        Assert.Equal(7, observed.Total);
    }
}
