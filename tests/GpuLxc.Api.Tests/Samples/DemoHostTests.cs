using GpuLxc.Api.Tests.Drivers;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Samples;

/// <summary>samples/hosts/demo works as its README says.</summary>
public sealed class DemoHostTests
{
    [Fact]
    public async Task WithoutMaterializingTheDemoHostEveryMissingNodeIsNamed()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Demo(materialized: false));
        var client = factory.CreateGpuLxcClient();

        var driver = await client.GetHostDriverAsync();
        var check = (await client.GetDiagnosticsAsync()).Checks.Single(c => c.Id == "device-nodes-present");

        Assert.False(driver.DeviceNodesComplete);
        Assert.All(driver.DeviceNodes, node => Assert.False(node.Present));
        Assert.Equal(CheckStatus.Fail, check.Status);
        Assert.Contains("/dev/nvidiactl", check.Detail, StringComparison.Ordinal);
        Assert.Contains("/dev/nvidia-uvm", check.Detail, StringComparison.Ordinal);
        Assert.Contains("nvidia-modprobe", check.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheMaterializedDemoHostIsAProxmoxNodeWithAnRtx3060()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Demo(materialized: true));
        var client = factory.CreateGpuLxcClient();

        var host = await client.GetHostAsync();
        var gpu = Assert.Single((await client.ListGpusAsync()).Gpus);
        var driver = await client.GetHostDriverAsync();
        var checks = (await client.GetDiagnosticsAsync()).Checks.ToDictionary(c => c.Id);

        Assert.Equal((HostBackend.Proxmox, "8.2.7", CgroupVersion.V2), (host.Backend, host.ProxmoxVersion, host.CgroupVersion));
        Assert.Equal("NVIDIA GeForce RTX 3060", gpu.Name);
        Assert.Equal((true, 8, 1), (gpu.Nvenc.Supported, gpu.Nvenc.Limit, gpu.Nvenc.SessionCount));
        Assert.True(driver.DeviceNodesComplete);
        Assert.Equal(509, driver.DeviceNodes.Single(n => n.Path == "/dev/nvidia-uvm").Major);
        Assert.Equal(511, driver.DeviceNodes.Single(n => n.Path == "/dev/nvidia-caps/nvidia-cap2").Major);
        Assert.Equal(CheckStatus.Pass, checks["device-node-majors"].Status);
        Assert.Equal(CheckStatus.Pass, checks["dkms-built"].Status);
        Assert.Equal(CheckStatus.Fail, checks["cgroup-keys"].Status);
        Assert.Contains("/etc/pve/lxc/102.conf", checks["cgroup-keys"].Detail, StringComparison.Ordinal);
    }

    /// <summary>The demo README's walk, step by step: attach Jellyfin, install the driver in it with the stand-in .run, verify, detach.</summary>
    [Fact]
    public async Task TheDemoWalkInstallsAndVerifiesTheDriverInsideJellyfinThenDetachesCleanly()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Demo(materialized: true));
        var client = factory.CreateGpuLxcClient();
        var config = factory.Host.Bytes("/etc/pve/lxc/101.conf");

        var before = await client.GetContainerDriverAsync("101");
        var attached = await client.AttachGpuAsync("101", new AttachRequest());
        var install = await DriverLab.WaitAsync(client, (await client.InstallContainerDriverAsync("101",
            new GuestDriverInstallRequest { Method = GuestInstallMethod.RunInstaller, RunInstaller = "/root/NVIDIA-Linux-x86_64-550.127.05.run" })).Result.Id);
        var verify = await DriverLab.WaitAsync(client, (await client.VerifyContainerGpuAsync("101")).Result.Id);
        var after = await client.GetContainerDriverAsync("101");
        await client.DetachGpuAsync("101");

        Assert.Null(before.InstalledVersion);
        Assert.True(attached.Result.Changed);
        Assert.True(install.State == JobState.Succeeded, $"install: {install.State} {install.Error?.Message} {install.Error?.StderrTail}");
        Assert.True(verify.State == JobState.Succeeded, $"verify: {verify.State} {verify.Error?.Message} {verify.Error?.StderrTail}");
        Assert.Equal("7 device nodes present", verify.Steps.Single(s => s.Name == "deviceNodes").Message);
        Assert.Equal(("550.127.05", true), (after.InstalledVersion, after.Match));
        Assert.Equal(config, factory.Host.Bytes("/etc/pve/lxc/101.conf"));
        Assert.True(File.Exists(factory.Host.PathOf("/var/lib/lxc/101/rootfs/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.127.05")));
        Assert.False(File.Exists(factory.Host.PathOf("/var/lib/lxc/101/rootfs/tmp/gpulxc-NVIDIA-Linux-x86_64-550.127.05.run")));
    }

    [Fact]
    public async Task NothingRunsInsideFrigateWhileItIsStopped()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Demo(materialized: true));
        var client = factory.CreateGpuLxcClient();

        var frigate = await client.GetContainerDriverAsync("102");
        var refused = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.VerifyContainerGpuAsync("102"));

        Assert.Null(frigate.InstalledVersion);
        Assert.Equal(409, refused.StatusCode);
    }

    /// <summary>What the demo README says of Frigate's hand-written lines, mode by mode.</summary>
    [Fact]
    public async Task AttachingFrigateAdoptsItsHandWrittenMountsInRawModeAndLeavesThemBesideDevEntriesByDefault()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Demo(materialized: true));
        var client = factory.CreateGpuLxcClient();
        const string HandWritten = "lxc.mount.entry: /dev/nvidia0 dev/nvidia0 none bind,optional,create=file";

        var byDefault = await client.AttachGpuAsync("102", new AttachRequest(), dryRun: true);
        var raw = await client.AttachGpuAsync("102", new AttachRequest { Mode = AttachmentMode.Raw }, dryRun: true);

        Assert.Contains(byDefault.Result.Added, line => line.StartsWith("dev", StringComparison.Ordinal) && line.EndsWith("/dev/nvidia0", StringComparison.Ordinal));
        Assert.Contains(byDefault.Result.HandMadeLines!, line => line.Text == HandWritten);
        Assert.Contains(raw.Result.Attachment!.Lines, line => $"{line.Key}: {line.Value}" == HandWritten && line.Present);
        Assert.DoesNotContain(HandWritten, raw.Result.Added);
        Assert.Contains("lxc.cgroup2.devices.allow: c 509:* rwm", raw.Result.Added);
    }

    /// <summary>Frigate's `lxc.cgroup.devices.allow: c 243:* rwm`: an ignored key and a major no driver has, one fix.</summary>
    [Fact]
    public async Task HandMadeLinesAreNumberedInTheFileTheCallerWillOpenAndTheirFixNeverRepeatsTheWrongMajor()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Demo(materialized: true));
        var client = factory.CreateGpuLxcClient();
        const string Config = "/etc/pve/lxc/102.conf";
        string[] Lines() => System.Text.Encoding.UTF8.GetString(factory.Host.Bytes(Config)).Split('\n');

        var planned = (await client.AttachGpuAsync("102", new AttachRequest(), dryRun: true)).Result.HandMadeLines!;
        var now = Lines();
        var written = (await client.AttachGpuAsync("102", new AttachRequest())).Result.HandMadeLines!;
        var after = Lines();

        Assert.NotEmpty(planned);
        Assert.All(planned, line => Assert.Equal(line.Text, now[line.Line - 1]));
        Assert.All(written, line => Assert.Equal(line.Text, after[line.Line - 1]));
        var wrongMajor = Assert.Single(planned, line => line.Text == "lxc.cgroup.devices.allow: c 243:* rwm");
        Assert.Contains("`lxc.cgroup2.devices.allow: c 509:* rwm`", wrongMajor.Fix, StringComparison.Ordinal);
        Assert.DoesNotContain("c 243:*", wrongMajor.Fix, StringComparison.Ordinal);
    }

    /// <summary>The demo's Jellyfin (101, unprivileged) has its own render group: dev entries carry the guest's gid, not the host's.</summary>
    [Fact]
    public async Task TheDemoJellyfinsOwnRenderGroupIsTheGidItsDevEntriesCarry()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Demo(materialized: true));
        var client = factory.CreateGpuLxcClient();

        var change = (await client.AttachGpuAsync("101", new AttachRequest { Mode = AttachmentMode.Dev, Group = "render" }, dryRun: true)).Result;
        var missing = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.AttachGpuAsync("101", new AttachRequest { Mode = AttachmentMode.Dev, Group = "plugdev" }, dryRun: true));

        var entries = change.Added.Where(l => l.StartsWith("dev", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(entries);
        Assert.All(entries, line => Assert.Contains(",gid=105,", line, StringComparison.Ordinal));
        Assert.Contains("has no group 'plugdev'", missing.Result.Detail, StringComparison.Ordinal);
    }
}
