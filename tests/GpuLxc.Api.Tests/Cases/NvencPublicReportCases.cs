using GpuLxc.Api.Tests.Nvenc;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Cases;

/// <summary>Public reports of the consumer NVENC limit (issue 13, kind G), each reduced to a host and its encodes.</summary>
public sealed class NvencPublicReportCases
{
    /// <summary>
    /// https://github.com/NVIDIA/nvidia-docker/issues/1689 (also NVIDIA/nvidia-container-toolkit#180): a machine with
    /// four GeForce GTX 1080 Ti gave each of four containers its own GPU; the fourth container's encoder failed to
    /// open (NVENC error 10), because the consumer limit of 3 sessions counts the whole machine, not each GPU. Reduced:
    /// driver 515, containers 101 and 102 encode on GPUs 0 and 1 without a lease, 103 holds a lease for GPU 2 whose
    /// encode has not started yet, and 104 asks for GPU 3.
    /// </summary>
    [Fact]
    public async Task OneContainerPerGeforceStillSharesOneMachineWideBudget()
    {
        var nvml = new EncoderNvml("515.65.01", Enumerable.Range(0, 4).Select(i => EncoderNvml.GeForce(i, "NVIDIA GeForce GTX 1080 Ti")).ToArray())
            .Encoding(0, [1101])
            .Encoding(1, [1201]);
        using var factory = NvencHolderTests.Over(NvencHolderTests.Host("515.65.01")
            .WithFile("/proc/1101/cgroup", "0::/lxc/101/ns/init.scope\n")
            .WithFile("/proc/1201/cgroup", "0::/lxc/102/ns/init.scope\n"), nvml);
        var client = factory.CreateGpuLxcClient(TestKeys.Sessions);

        await client.AcquireLeaseAsync(new LeaseRequest { Holder = "streamer-103", ContainerId = "103" });
        var fourth = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() =>
            client.AcquireLeaseAsync(new LeaseRequest { Holder = "streamer-104", ContainerId = "104" }));
        var status = await factory.CreateGpuLxcClient().GetNvencAsync();

        var budget = Assert.Single(status.Budgets);
        Assert.Equal(("host", 4, 3, NvencLimitSource.DriverTable), (status.Scope, budget.Gpus.Count, budget.Limit, budget.LimitSource));
        Assert.Equal((1, 2, 3, 0), (budget.Leases, budget.Observed, budget.InUse, budget.Available));
        Assert.Equal(429, fourth.StatusCode);
    }

    /// <summary>
    /// https://github.com/gazebosim/gz-common/pull/125: on a 40-core server with eight GeForce RTX 2080 Ti, only three
    /// playback recorders could encode at once, whichever GPUs they used, and the fourth failed with ENOMEM from
    /// avcodec_open2. Reduced: driver 455 (3 sessions), two recorders run on the host on GPUs 0 and 5 without a lease;
    /// container 101 gets the third slot, and container 102 is refused though six GPUs encode nothing.
    /// </summary>
    [Fact]
    public async Task RecordersOnTheHostHoldSlotsThatContainersCannotTake()
    {
        var nvml = new EncoderNvml("455.45.01", Enumerable.Range(0, 8).Select(i => EncoderNvml.GeForce(i, "NVIDIA GeForce RTX 2080 Ti")).ToArray())
            .Encoding(0, [2001])
            .Encoding(5, [2002]);
        using var factory = NvencHolderTests.Over(NvencHolderTests.Host("455.45.01")
            .WithFile("/proc/2001/cgroup", "0::/user.slice/user-1000.slice/session-3.scope\n")
            .WithFile("/proc/2002/cgroup", "0::/user.slice/user-1000.slice/session-3.scope\n"), nvml);
        var client = factory.CreateGpuLxcClient(TestKeys.Sessions);

        var third = await client.AcquireLeaseAsync(new LeaseRequest { Holder = "recorder-101", ContainerId = "101" });
        var fourth = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() =>
            client.AcquireLeaseAsync(new LeaseRequest { Holder = "recorder-102", ContainerId = "102" }));
        var status = await factory.CreateGpuLxcClient().GetNvencAsync();

        var budget = Assert.Single(status.Budgets);
        Assert.Equal((8, 3), (budget.Gpus.Count, budget.Limit));
        Assert.Equal((1, 2, 3, 0), (budget.Leases, budget.Observed, budget.InUse, budget.Available));
        Assert.All(status.Sessions, s => Assert.Null(s.ContainerId));
        Assert.Equal("101", third.ContainerId);
        Assert.Equal(429, fourth.StatusCode);
    }
}
