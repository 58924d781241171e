using GpuLxc.Api.Jobs;

namespace GpuLxc.Api.Tests.Jobs;

public sealed class JobKindsFacts
{
    public static TheoryData<JobKind, JobKind> Pairs()
    {
        var pairs = new TheoryData<JobKind, JobKind>();
        foreach (var first in Enum.GetValues<JobKind>())
        {
            foreach (var second in Enum.GetValues<JobKind>())
            {
                pairs.Add(first, second);
            }
        }

        return pairs;
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void Excludes_IsSymmetric_ForEveryPairOfKinds(JobKind first, JobKind second)
    {
        Assert.Equal(first.Excludes().Anywhere.Contains(second), second.Excludes().Anywhere.Contains(first));
        Assert.Equal(first.Excludes().SameTarget.Contains(second), second.Excludes().SameTarget.Contains(first));
    }

    [Fact]
    public void Excludes_KeepsOnePackageRunOnTheHost_WhenAHostInstallOrAResyncIsActive()
    {
        Assert.Equal([JobKind.HostDriverInstall, JobKind.DriverResync, JobKind.KernelModuleBuild], JobKind.HostDriverInstall.Excludes().Anywhere);
        Assert.Equal([JobKind.HostDriverInstall, JobKind.DriverResync, JobKind.KernelModuleBuild], JobKind.KernelModuleBuild.Excludes().Anywhere);
        Assert.Equal(Enum.GetValues<JobKind>().Order(), JobKind.DriverResync.Excludes().Anywhere.Order());
    }

    [Fact]
    public void Excludes_KeepsOneJobPerContainer_AndNoneDuringAResync()
    {
        foreach (var kind in (JobKind[])[JobKind.GuestDriverInstall, JobKind.GuestVerify])
        {
            Assert.Equal([JobKind.DriverResync], kind.Excludes().Anywhere);
            Assert.Equal([JobKind.GuestDriverInstall, JobKind.GuestVerify], kind.Excludes().SameTarget);
        }
    }

    [Fact]
    public void InstallsPackages_IsFalse_OnlyForAVerification()
    {
        Assert.Equal([JobKind.GuestVerify], Enum.GetValues<JobKind>().Where(kind => !kind.InstallsPackages()));
    }
}
