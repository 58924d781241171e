using System.Diagnostics;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;
using Xunit.Abstractions;

namespace GpuLxc.Api.Tests.Drivers;

/// <summary>
/// Guest installs of exactly the host's version, driven through GpuLxc's API and jobs with the LXC backend, into real
/// Debian 12 containers running real apt 2.6 against stand-in packages (<see cref="RealAptGuests"/>). The Debian graph
/// copies the control files of Debian 12's nvidia-graphics-drivers 535.261.03-1 (the table in the field case `real-apt-debian`, shared/cases/real-apt-debian/README.md). The Ubuntu
/// graph was not read from a real Ubuntu archive; it assumes what Ubuntu's packages are known to do: branch-suffixed
/// names (<c>libnvidia-compute-550</c>) built from <c>nvidia-graphics-drivers-BRANCH</c>, <c>-server</c> twins from
/// their own source, every branch's packages providing and conflicting with the unsuffixed virtual name (so one branch
/// replaces another), and <c>-590</c>'s names republished as transitional packages that depend on <c>-595</c>. Its
/// container is a Debian 12 root file system whose <c>/etc/os-release</c> says Ubuntu 24.04, so apt is Debian's 2.6.1,
/// not Ubuntu's 2.7.
/// </summary>
public sealed class RealLxcAptTests(RealAptGuests guests, ITestOutputHelper output) : IClassFixture<RealAptGuests>
{
    private const string Bookworm = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n";
    private const string Noble = "PRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\nVERSION_CODENAME=noble\nID=ubuntu\nID_LIKE=debian\n";
    private static readonly string[] DebianDriver = ["libcuda1", "libnvidia-ml1", "nvidia-smi", "nvidia-alternative", "libnvidia-ptxjitcompiler1", "libnvidia-pkcs11-openssl3"];

    [RealAptFact]
    public async Task ADebianContainerGetsExactlyTheHostsVersionWhicheverSuiteOrFlatRepositoryHasIt()
    {
        var prepared = Stopwatch.StartNew();
        guests.Prepare();
        output.WriteLine($"debootstrap {guests.Timings.Rootfs.TotalSeconds:F0} s (0: reused), repositories {guests.Timings.Repositories.TotalSeconds:F0} s, prepare {prepared.Elapsed.TotalSeconds:F0} s");
        var ct = guests.Create("apt", string.Join('\n',
            $"deb [trusted=yes] file:{RealAptGuests.RepositoryInside}/debian bookworm main",
            $"deb [trusted=yes] file:{RealAptGuests.RepositoryInside}/debian bookworm-security main",
            $"deb [trusted=yes] file:{RealAptGuests.RepositoryInside}/debian bookworm-backports main",
            $"deb [trusted=yes] file:{RealAptGuests.RepositoryInside}/flat ./", ""));
        using var host = Host("550.127.05");
        using var factory = Factory(host);
        var client = factory.CreateGpuLxcClient();
        await client.AttachGpuAsync(ct, new AttachRequest());

        await Scenario("install 550.127.05, not apt's candidate (550.163.01 from bookworm-security)", async () =>
        {
            Assert.Contains("Candidate: 550.163.01-0+deb12u1", RealAptGuests.Inside(ct, "apt-get update -qq && apt-cache policy libcuda1"), StringComparison.Ordinal);
            var job = await Install(client, ct);
            Assert.True(job.State == JobState.Succeeded, Describe(job));
            Assert.All(RealAptGuests.Dpkg(ct, DebianDriver), s => Assert.Equal("installed 550.127.05-1", s));
            Assert.Equal("Package: src:nvidia-graphics-drivers\nPin: version 550.127.05-1\nPin-Priority: 1001",
                string.Join('\n', RealAptGuests.Inside(ct, "cat /etc/apt/preferences.d/gpulxc-nvidia").Split('\n').Where(l => !l.StartsWith("Explanation:", StringComparison.Ordinal))).Trim());
            Assert.Equal(["libcuda1", "libnvcuvid1", "libnvidia-encode1", "libnvidia-ml1", "nvidia-smi"], Lines(RealAptGuests.Inside(ct, "apt-mark showhold")));
            Assert.Equal(["libcuda1", "libnvcuvid1", "libnvidia-encode1", "libnvidia-ml1", "nvidia-smi"], Lines(RealAptGuests.Inside(ct, "cat /var/lib/gpulxc/apt-holds")));
            var driver = await client.GetContainerDriverAsync(ct);
            Assert.True((driver.InstalledVersion, driver.Match) == ("550.127.05", true), string.Join(" ", driver.Notes));
        });

        await Scenario("downgrade to 550.54.14", async () =>
        {
            host.WithFile("/proc/driver/nvidia/version", Banner("550.54.14"));
            var job = await Install(client, ct);
            Assert.True(job.State == JobState.Succeeded, Describe(job));
            Assert.All(RealAptGuests.Dpkg(ct, DebianDriver), s => Assert.Equal("installed 550.54.14-1", s));
            Assert.Contains("Pin: version 550.54.14-1", RealAptGuests.Inside(ct, "cat /etc/apt/preferences.d/gpulxc-nvidia"), StringComparison.Ordinal);
        });

        await Scenario("upgrade to 550.127.05 through resync, then a second resync is in sync", async () =>
        {
            host.WithFile("/proc/driver/nvidia/version", Banner("550.127.05"));
            var first = await Resync(client);
            Assert.True(first.State == JobState.Succeeded, Describe(first));
            Assert.Equal(("550.54.14", "550.127.05", "reinstalled"), Outcome(first, ct));
            Assert.All(RealAptGuests.Dpkg(ct, DebianDriver), s => Assert.Equal("installed 550.127.05-1", s));
            var second = await Resync(client);
            Assert.True(second.State == JobState.Succeeded, Describe(second));
            Assert.Equal(("550.127.05", "550.127.05", "inSync"), Outcome(second, ct));
        });

        await Scenario("a newer security update is published; apt-get full-upgrade leaves the driver alone", () =>
        {
            guests.PublishDebian("bookworm-security", "550.180.01-0+deb12u2");
            var upgrade = RealAptGuests.Inside(ct, "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get -y full-upgrade; apt-cache policy libnvidia-ml1 nvidia-alternative");
            Assert.Contains("550.180.01-0+deb12u2", upgrade, StringComparison.Ordinal);
            Assert.DoesNotContain("Candidate: 550.180.01", upgrade, StringComparison.Ordinal);
            Assert.All(RealAptGuests.Dpkg(ct, DebianDriver), s => Assert.Equal("installed 550.127.05-1", s));
            return Task.CompletedTask;
        });

        await Scenario("dpkg fails configuring 550.120: the job shows apt's lines, and the unpacked driver never counts", async () =>
        {
            host.WithFile("/proc/driver/nvidia/version", Banner("550.120"));
            var job = await Install(client, ct);
            Assert.Equal(JobState.Failed, job.State);
            Assert.Contains("E: Sub-process /usr/bin/dpkg returned an error code (1)", job.Error!.Message, StringComparison.Ordinal);
            Assert.Contains("dpkg --configure -a", job.Error.Fix, StringComparison.Ordinal);
            Assert.Contains("550.120", RealAptGuests.Inside(ct, "nvidia-smi"), StringComparison.Ordinal);
            Assert.DoesNotContain(RealAptGuests.Dpkg(ct, "libnvidia-ml1", "nvidia-alternative"), s => s.StartsWith("installed", StringComparison.Ordinal));
            var driver = await client.GetContainerDriverAsync(ct);
            Assert.Equal((null, false), (driver.InstalledVersion, driver.Match));
            Assert.Contains(driver.Notes, n => n.Contains("libnvidia-ml1", StringComparison.Ordinal) && n.Contains("does not count", StringComparison.Ordinal));
            var resync = await Resync(client);
            Assert.NotEqual("inSync", Outcome(resync, ct).Outcome);
        });

        await Scenario("back to 550.127.05 after the failure", async () =>
        {
            host.WithFile("/proc/driver/nvidia/version", Banner("550.127.05"));
            var job = await Install(client, ct);
            Assert.True(job.State == JobState.Succeeded, Describe(job));
            Assert.All(RealAptGuests.Dpkg(ct, DebianDriver), s => Assert.Equal("installed 550.127.05-1", s));
        });

        await Scenario("560.35.03 from bookworm-backports (NotAutomatic)", async () =>
        {
            host.WithFile("/proc/driver/nvidia/version", Banner("560.35.03"));
            var job = await Install(client, ct);
            Assert.True(job.State == JobState.Succeeded, Describe(job));
            Assert.All(RealAptGuests.Dpkg(ct, DebianDriver), s => Assert.Equal("installed 560.35.03-1~bpo12+1", s));
            Assert.Contains("bookworm-backports", job.Steps.Single(s => s.Name == "install").Message, StringComparison.Ordinal);
        });

        await Scenario("550.144.03 only in the flat repository (deb … ./)", async () =>
        {
            host.WithFile("/proc/driver/nvidia/version", Banner("550.144.03"));
            var job = await Install(client, ct);
            Assert.True(job.State == JobState.Succeeded, Describe(job));
            Assert.All(RealAptGuests.Dpkg(ct, DebianDriver), s => Assert.Equal("installed 550.144.03-1", s));
            Assert.Contains($"from file:{RealAptGuests.RepositoryInside}/flat ./", job.Steps.Single(s => s.Name == "install").Message, StringComparison.Ordinal);
            Assert.True((await client.GetContainerDriverAsync(ct)).Match);
        });

        await Scenario("550.90.07 exists nowhere: the job fails naming what exists and changes nothing", async () =>
        {
            host.WithFile("/proc/driver/nvidia/version", Banner("550.90.07"));
            var job = await Install(client, ct);
            Assert.Equal(("noExactVersion", "install"), (job.Error?.Code, job.Error?.Step));
            Assert.Contains("libnvidia-ml1: 560.35.03-1~bpo12+1, 550.180.01-0+deb12u2, 550.163.01-0+deb12u1, 550.144.03-1", job.Error!.Message, StringComparison.Ordinal);
            Assert.All(RealAptGuests.Dpkg(ct, DebianDriver), s => Assert.Equal("installed 550.144.03-1", s));
            Assert.Contains("Pin: version 550.144.03-1", RealAptGuests.Inside(ct, "cat /etc/apt/preferences.d/gpulxc-nvidia"), StringComparison.Ordinal);
        });
    }

    [RealAptFact]
    public async Task AnUbuntuGraphContainerChangesBranchReleasingOnlyGpuLxcsHoldsAndNeverMovesA590HostTo595()
    {
        guests.Prepare();
        var ct = guests.Create("ubu", string.Join('\n',
            $"deb [trusted=yes] file:{RealAptGuests.RepositoryInside}/ubuntu noble main",
            $"deb [trusted=yes] file:{RealAptGuests.RepositoryInside}/ubuntu noble-updates main", ""), Noble);
        using var host = Host("550.127.05");
        using var factory = Factory(host);
        var client = factory.CreateGpuLxcClient();
        await client.AttachGpuAsync(ct, new AttachRequest());
        // The owner's own hold, on a package of the old branch that GpuLxc never installs: it must stay.
        RealAptGuests.Inside(ct, "apt-get update -qq && apt-mark hold libnvidia-compute-550-server");

        await Scenario("Ubuntu 550.127.05, not the candidate (550.163.01 in noble-updates)", async () =>
        {
            var job = await Install(client, ct);
            Assert.True(job.State == JobState.Succeeded, Describe(job));
            Assert.Equal(["installed 550.127.05-0ubuntu0.24.04.1", "installed 550.127.05-0ubuntu0.24.04.1"], RealAptGuests.Dpkg(ct, "libnvidia-compute-550", "nvidia-utils-550"));
            Assert.Contains("Package: src:nvidia-graphics-drivers-550\n", RealAptGuests.Inside(ct, "cat /etc/apt/preferences.d/gpulxc-nvidia"), StringComparison.Ordinal);
            Assert.Equal(["libnvidia-compute-550", "libnvidia-decode-550", "libnvidia-encode-550", "nvidia-utils-550"], Lines(RealAptGuests.Inside(ct, "cat /var/lib/gpulxc/apt-holds")));
        });

        await Scenario("branch change 550 → 590.48.01: GpuLxc's holds move, the owner's stays, the transitional 595 is never taken", async () =>
        {
            host.WithFile("/proc/driver/nvidia/version", Banner("590.48.01"));
            var job = await Install(client, ct);
            Assert.True(job.State == JobState.Succeeded, Describe(job));
            Assert.Equal(["installed 590.48.01-0ubuntu0.24.04.1", "installed 590.48.01-0ubuntu0.24.04.1", "none", "none"],
                RealAptGuests.Dpkg(ct, "libnvidia-compute-590", "nvidia-utils-590", "libnvidia-compute-595", "libnvidia-compute-550"));
            Assert.Equal(["libnvidia-compute-550-server", "libnvidia-compute-590", "libnvidia-decode-590", "libnvidia-encode-590", "nvidia-utils-590"],
                Lines(RealAptGuests.Inside(ct, "apt-mark showhold")));
            var upgrade = RealAptGuests.Inside(ct, "DEBIAN_FRONTEND=noninteractive apt-get -y full-upgrade; apt-cache policy libnvidia-compute-590");
            Assert.Contains("Candidate: 590.48.01-0ubuntu0.24.04.1", upgrade, StringComparison.Ordinal);
            Assert.Equal(["installed 590.48.01-0ubuntu0.24.04.1", "none"], RealAptGuests.Dpkg(ct, "libnvidia-compute-590", "libnvidia-compute-595"));
            Assert.True((await client.GetContainerDriverAsync(ct)).Match);
        });

        await Scenario("branch change 590 → 595.45.04", async () =>
        {
            host.WithFile("/proc/driver/nvidia/version", Banner("595.45.04"));
            var job = await Install(client, ct);
            Assert.True(job.State == JobState.Succeeded, Describe(job));
            // apt may keep -590's names as the empty transitional packages (built from the 595 source, at 595's version).
            Assert.Equal("installed 595.45.04-0ubuntu0.24.04.1", RealAptGuests.Dpkg(ct, "libnvidia-compute-595")[0]);
            Assert.NotEqual("installed 590.48.01-0ubuntu0.24.04.1", RealAptGuests.Dpkg(ct, "libnvidia-compute-590")[0]);
            Assert.True((await client.GetContainerDriverAsync(ct)).Match);
            Assert.Equal(["libnvidia-compute-550-server", "libnvidia-compute-595", "libnvidia-decode-595", "libnvidia-encode-595", "nvidia-utils-595"],
                Lines(RealAptGuests.Inside(ct, "apt-mark showhold")));
        });
    }

    private async Task Scenario(string name, Func<Task> run)
    {
        var watch = Stopwatch.StartNew();
        try
        {
            await run();
            output.WriteLine($"PASS {name} ({watch.Elapsed.TotalSeconds:F1} s)");
        }
        catch
        {
            output.WriteLine($"FAIL {name} ({watch.Elapsed.TotalSeconds:F1} s)");
            throw;
        }
    }

    private static HostTree Host(string version) => new HostTree()
        .WithSymlink("/var", "/var").WithSymlink("/run", "/run").WithSymlink("/sys/fs/cgroup", "/sys/fs/cgroup")
        .WithFile("/etc/os-release", Bookworm)
        .WithPciGpu("0000:01:00.0", "2504", "nvidia")
        .WithFile("/proc/driver/nvidia/gpus/0000:01:00.0/information", "Model: \t\t NVIDIA GeForce RTX 3060\nDevice Minor: \t 0\n")
        .WithFile("/proc/devices", "Character devices:\n  1 mem\n195 nvidia-frontend\n511 nvidia-uvm\n\nBlock devices:\n  7 loop\n")
        .WithCharDevice("/dev/nvidia0", 195, 0).WithCharDevice("/dev/nvidiactl", 195, 255).WithCharDevice("/dev/nvidia-uvm", 511, 0)
        .WithFile("/proc/driver/nvidia/version", Banner(version));

    private static GpuLxcApiFactory Factory(HostTree host)
    {
        var factory = new GpuLxcApiFactory(host, ownsHost: false);
        factory.Settings["GpuLxc:Host:Backend"] = "lxc";
        factory.Settings["GpuLxc:Host:BinPath"] = "";
        return factory;
    }

    private static string Banner(string version) => $"NVRM version: NVIDIA UNIX x86_64 Kernel Module  {version}  Tue Oct  8 03:22:07 UTC 2024\n";

    private static async Task<Job> Install(IGpuLxcClient client, string ct) =>
        await Finished(client, (await client.InstallContainerDriverAsync(ct, new GuestDriverInstallRequest { Method = GuestInstallMethod.Apt })).Result.Id);

    private static async Task<Job> Resync(IGpuLxcClient client) =>
        await Finished(client, (await client.ResyncDriversAsync(new DriverResyncRequest())).Result.Id);

    private static (string? Before, string? After, string Outcome) Outcome(Job job, string ct) =>
        job.Result!.Containers!.Single(c => c.ContainerId == ct) is var c ? (c.Before, c.After, c.Outcome) : default;

    private static async Task<Job> Finished(IGpuLxcClient client, string jobId)
    {
        for (var attempt = 0; attempt < 30; attempt++)
        {
            var job = await client.GetJobAsync(jobId, waitSeconds: 10);
            if (job.State is JobState.Succeeded or JobState.Failed or JobState.Cancelled)
            {
                return job;
            }
        }

        throw new TimeoutException($"job {jobId} did not finish in 5 minutes");
    }

    private static string Describe(Job job) =>
        $"{job.State}: {job.Error?.Step} {job.Error?.Code} {job.Error?.Message} | fix: {job.Error?.Fix} | steps: {string.Join("; ", job.Steps.Select(s => $"{s.Name} {s.State} {s.Message}"))}";

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order(StringComparer.Ordinal).ToArray();
}
