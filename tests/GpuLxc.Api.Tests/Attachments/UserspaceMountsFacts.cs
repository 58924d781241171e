using GpuLxc.Api.Attachments;
using GpuLxc.Api.Containers.Config;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Hosts;
using GpuLxc.Api.Inventory;
using GpuLxc.Api.Tests.Support;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Tests.Attachments;

/// <summary><c>userspace: host</c> planned against the H100 host's driver files (the capture's layout), on real Proxmox configs.</summary>
public sealed class UserspaceMountsFacts
{
    private const string Options = "none bind,ro,optional,create=file";

    [Fact]
    public async Task Add_BindsEachLibraryAtItsVersionedAndSonamePaths_WhenUserspaceIsHost()
    {
        var context = await ContextAsync(HostFixtures.H100WithDriverFiles);

        var plan = Plan(new AttachRequest(Mode: AttachmentMode.Raw, Userspace: UserspaceSource.Host), context);

        var mounts = plan.Lines.Where(l => UserspaceMounts.IsUserspaceLine(l.Key, l.Value)).Select(l => l.Value).ToList();
        Assert.Contains($"/usr/local/nvidia/lib64/libnvidia-ml.so.580.159.04 usr/lib/x86_64-linux-gnu/libnvidia-ml.so.580.159.04 {Options}", mounts);
        Assert.Contains($"/usr/local/nvidia/lib64/libnvidia-ml.so.580.159.04 usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1 {Options}", mounts);
        Assert.Contains($"/usr/local/nvidia/lib64/libcuda.so.580.159.04 usr/lib/x86_64-linux-gnu/libcuda.so.1 {Options}", mounts);
        Assert.Contains($"/usr/local/nvidia/lib64/libnvidia-nvvm.so.580.159.04 usr/lib/x86_64-linux-gnu/libnvidia-nvvm.so.4 {Options}", mounts);
        Assert.Contains($"/usr/local/nvidia/lib64/libnvcuvid.so.580.159.04 usr/lib/x86_64-linux-gnu/libnvcuvid.so.1 {Options}", mounts);
        Assert.Contains($"/usr/local/nvidia/bin/nvidia-smi usr/bin/nvidia-smi {Options}", mounts);
        Assert.Single(mounts, m => m.StartsWith("/usr/local/nvidia/lib64/libnvidia-gpucomp.so.580.159.04 ", StringComparison.Ordinal));
        Assert.Equal(context.Userspace!.Files.Count + context.Userspace.Files.Count(f => f.Soname is not null), mounts.Count);
        Assert.Contains(plan.Lines, l => l.Value == "c 195:* rwm");
    }

    [Fact]
    public async Task Add_ChangesNothing_WhenUserspaceIsInstalled()
    {
        var context = await ContextAsync(HostFixtures.H100WithDriverFiles);

        var plan = Plan(new AttachRequest(Mode: AttachmentMode.Raw), context);

        Assert.Equal(AttachmentPlanner.Plan(new AttachRequest(Mode: AttachmentMode.Raw), context.Gpus, context.Nodes, context.Cgroup, true, false).Lines, plan.Lines);
        Assert.DoesNotContain(plan.Lines, l => UserspaceMounts.IsUserspaceLine(l.Key, l.Value));
    }

    [Fact]
    public async Task Add_BindsOnlyTheCapabilitiesAskedFor()
    {
        var context = await ContextAsync(HostFixtures.H100WithDriverFiles);

        var plan = Plan(new AttachRequest(Userspace: UserspaceSource.Host, Capabilities: [DriverCapability.Utility]), context);

        Assert.Equal(
            [$"/usr/local/nvidia/lib64/libnvidia-ml.so.580.159.04 usr/lib/x86_64-linux-gnu/libnvidia-ml.so.580.159.04 {Options}",
             $"/usr/local/nvidia/lib64/libnvidia-ml.so.580.159.04 usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1 {Options}",
             $"/usr/local/nvidia/bin/nvidia-smi usr/bin/nvidia-smi {Options}"],
            plan.Lines.Where(l => UserspaceMounts.IsUserspaceLine(l.Key, l.Value)).Select(l => l.Value));
    }

    [Fact]
    public async Task Add_Throws_WhenACapabilityAskedForHasNoFilesOnTheHost()
    {
        var context = await ContextAsync(HostFixtures.H100WithDriverFiles);

        var e = Assert.Throws<PlanException>(() => Plan(new AttachRequest(Userspace: UserspaceSource.Host, Capabilities: [DriverCapability.Graphics]), context));

        Assert.Contains("no graphics files of driver 580.159.04", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Add_Throws_WhenNoModuleIsLoaded()
    {
        var context = await ContextAsync(HostFixtures.H100WithDriverFiles) with { Userspace = null };

        var e = Assert.Throws<PlanException>(() => Plan(new AttachRequest(Userspace: UserspaceSource.Host), context));

        Assert.Contains("userspace installed", e.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Attach_WritesRawLxcKeysInTheMainSection_OnAProxmoxConfigWithSnapshots()
    {
        var context = await ContextAsync(HostFixtures.H100WithDriverFiles);
        var config = new ProxmoxConfig(ProxmoxConfigs.Real("public-6006.conf"));

        AttachmentEdit.Attach(config, null, Plan(new AttachRequest(Userspace: UserspaceSource.Host), context).Lines);

        var text = System.Text.Encoding.UTF8.GetString(config.ToBytes());
        var line = $"lxc.mount.entry: /usr/local/nvidia/lib64/libcuda.so.580.159.04 usr/lib/x86_64-linux-gnu/libcuda.so.1 {Options}";
        Assert.Contains(line, text, StringComparison.Ordinal);
        var snapshot = text.IndexOf("\n[", StringComparison.Ordinal);
        Assert.True(snapshot < 0 || text.IndexOf(line, StringComparison.Ordinal) < snapshot);
    }

    [Fact]
    public async Task Detach_RemovesEveryMount()
    {
        var context = await ContextAsync(HostFixtures.H100WithDriverFiles);
        var (record, config) = Attach(new AttachRequest(Userspace: UserspaceSource.Host), context);

        AttachmentEdit.Detach(config, record);

        Assert.DoesNotContain(config.Settings(), s => UserspaceMounts.IsUserspaceLine(s.Key, s.Value));
        Assert.DoesNotContain("nvidia", System.Text.Encoding.UTF8.GetString(config.ToBytes()), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DriftOf_NamesTheOldVersion_WhenTheHostDriverWasUpgradedSinceTheAttachment()
    {
        var before = await ContextAsync(() => Driver("550.127.05"));
        var after = await ContextAsync(() => Driver("580.159.04"));
        var request = new AttachRequest(Userspace: UserspaceSource.Host, Capabilities: [DriverCapability.Utility]);
        var (record, config) = Attach(request, before);

        var drift = DriftCheck.Of(record, config, after, false);

        Assert.Equal(DriftStatus.HostChanged, drift.Status);
        Assert.Contains("driver 550.127.05; the host has 580.159.04 loaded", drift.Detail, StringComparison.Ordinal);
        Assert.Contains("?restart=true", drift.Fix, StringComparison.Ordinal);
        Assert.Equal(DriftStatus.InSync, DriftCheck.Of(record, config, before, false).Status);
        var (replanned, reconfig) = Attach(request, after);
        Assert.Equal(DriftStatus.InSync, DriftCheck.Of(replanned, reconfig, after, false).Status);
    }

    private static HostTree Driver(string version) => new HostTree()
        .WithFile(LoadedDriver.SysfsPath, $"{version}\n")
        .WithFile($"/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.{version}", "ml")
        .WithFile("/usr/bin/nvidia-smi", "#!/bin/sh\n");

    private static AttachmentPlan Plan(AttachRequest request, PlanContext context) =>
        UserspaceMounts.Add(AttachmentPlanner.Plan(request, context.Gpus, context.Nodes, context.Cgroup, true, false), request, context.Userspace);

    private static (AttachmentRecord Record, ConfigText Config) Attach(AttachRequest request, PlanContext context)
    {
        var config = new ProxmoxConfig(ProxmoxConfigs.Real("charlzyx-101.conf"));
        var plan = Plan(request, context);
        var edit = AttachmentEdit.Attach(config, null, plan.Lines);
        return (new AttachmentRecord("101", "Proxmox", request, plan.Mode, plan.Gpus, edit.Lines, plan.Nodes, DateTimeOffset.UnixEpoch), config);
    }

    /// <summary>One GPU's nodes as on the H100 host, and the driver files of <paramref name="host"/>.</summary>
    private static async Task<PlanContext> ContextAsync(Func<HostTree> host)
    {
        using var tree = host();
        var files = new HostFileSystem(Microsoft.Extensions.Options.Options.Create(new HostAccessOptions { Root = tree.Root }));
        var userspace = await new HostUserspaceReader(files, new LoadedDriver(files)).ReadAsync(CancellationToken.None);
        DeviceNode Node(string path, uint major, uint minor) => new(path, true, false, HostFileType.CharacterDevice, major, minor, "0666", 0, 0, major, true);
        var nodes = new DeviceNodeScan(
            [Node("/dev/nvidia-uvm", 238, 0), Node("/dev/nvidia-uvm-tools", 238, 1), Node("/dev/nvidia0", 195, 0), Node("/dev/nvidiactl", 195, 255)],
            new Dictionary<string, uint>());
        Gpu gpu = new(0, HostFixtures.H100Uuid, "0000:00:06.0", "NVIDIA H100 80GB HBM3", "datacenter", "10de", "2330",
            null, null, "nvidia", null, 0, null, [], NvencPolicy.Describe(null, "datacenter", "2330", "580.159.04", null), [], []);
        return new PlanContext([gpu], nodes, CgroupVersion.V2, userspace);
    }
}
