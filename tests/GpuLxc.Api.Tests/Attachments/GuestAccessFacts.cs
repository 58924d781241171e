using GpuLxc.Api.Attachments;
using GpuLxc.Api.Containers.Config;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Hosts;
using GpuLxc.Api.Inventory;
using static GpuLxc.Api.Tests.Attachments.PlannerFixture;

namespace GpuLxc.Api.Tests.Attachments;

public sealed class GuestAccessFacts
{
    private static IdMap Map(string lines) => IdMap.Of(new LxcConfig(System.Text.Encoding.UTF8.GetBytes(lines)), proxmox: false)!;

    private static DeviceNodeScan Video0660(string mode = "0660", string modesetMode = "0660") => new(
    [
        new("/dev/nvidia-caps/nvidia-cap1", true, false, HostFileType.CharacterDevice, 511, 1, "0400", 0, 0, 511, true),
        new("/dev/nvidia-modeset", true, false, HostFileType.CharacterDevice, 195, 254, modesetMode, 0, 27, 195, true),
        new("/dev/nvidia-uvm", true, false, HostFileType.CharacterDevice, 509, 0, mode, 0, 27, 509, true),
        new("/dev/nvidia0", true, false, HostFileType.CharacterDevice, 195, 0, mode, 0, 27, 195, true),
        new("/dev/nvidiactl", true, false, HostFileType.CharacterDevice, 195, 255, mode, 0, 27, 195, true),
    ], new Dictionary<string, uint>());

    [Fact]
    public void IdMap_MapsHostIdsInsideAndBack_WithProxmoxsDefaultForAnUnprivilegedConfigWithoutLines()
    {
        var proxmox = IdMap.Of(new ProxmoxConfig("arch: amd64\nunprivileged: 1\n"u8.ToArray()), proxmox: true)!;
        var split = Map("lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 44\nlxc.idmap = g 44 27 1\nlxc.idmap = g 45 100045 65491\n");

        Assert.Equal((100u, (uint?)null, 100000u + 44), (proxmox.GroupInside(100100)!.Value, proxmox.GroupInside(27), proxmox.GroupOnHost(44)!.Value));
        Assert.Equal((44u, 27u, (uint?)null), (split.GroupInside(27)!.Value, split.GroupOnHost(44)!.Value, split.UserInside(27)));
        Assert.Null(IdMap.Of(new ProxmoxConfig("arch: amd64\n"u8.ToArray()), proxmox: true));
        Assert.Equal(["g 0 100000 44", "g 44 27 1", "g 45 100045 65491"], proxmox.WithGroup(44, 27).Select(r => r.ToString()));
    }

    [Fact]
    public void Check_RefusesNodesTheIdmapLeavesUnmapped_AndOnlyWarnsForAnOptionalOne()
    {
        var plan = AttachmentPlanner.Plan(new AttachRequest(Mode: AttachmentMode.Raw), [TwoGpus[0]], Video0660(), CgroupVersion.V2, false, true);
        var mapped = Map("lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 27\nlxc.idmap = g 27 27 1\nlxc.idmap = g 28 100028 65508\n");

        var refused = Assert.Throws<PlanException>(() => GuestAccess.Check(plan, Video0660(), IdMap.ProxmoxDefault, null, SubordinateGids.Parse("root:100000:65536\n"), "101"));
        var warned = GuestAccess.Check(plan, Video0660(mode: "0666"), IdMap.ProxmoxDefault, null, null, "101");
        var mappedGroup = GuestAccess.Check(plan, Video0660(), mapped, new GuestGroup("video", 27), null, "101");
        var otherGroup = Assert.Throws<PlanException>(() => GuestAccess.Check(plan, Video0660(), mapped, new GuestGroup("render", 993), null, "101"));
        var privileged = GuestAccess.Check(plan, Video0660(), null, null, null, "101");

        Assert.Equal(DriftStatus.NodesUnusable, refused.Status);
        Assert.Contains("/dev/nvidia0 is root:27 0660 on the host and shows inside as nobody:nogroup 0660", refused.Message, StringComparison.Ordinal);
        Assert.Contains("add `root:27:1` to /etc/subgid", refused.Fix, StringComparison.Ordinal);
        Assert.DoesNotContain("nvidia-cap1", refused.Message, StringComparison.Ordinal);
        Assert.Equal(["/dev/nvidia-modeset"], warned.Warnings.Select(w => w.Node));
        Assert.Empty(mappedGroup.Warnings);
        Assert.Contains("`lxc.idmap = g 993 27 1`", otherGroup.Fix, StringComparison.Ordinal);
        Assert.Same(plan, privileged);
    }

    [Fact]
    public void Plan_GivesDevEntriesTheGuestsGroupGidAndGroupReadWrite_WhenAGroupIsAsked()
    {
        var plan = AttachmentPlanner.Plan(new AttachRequest(Mode: AttachmentMode.Dev), [TwoGpus[0]], Nodes(uvmMajor: 509, gid: 44), CgroupVersion.V2, true, true, group: new GuestGroup("render", 993));
        var withoutGroup = AttachmentPlanner.Plan(new AttachRequest(Mode: AttachmentMode.Dev), [TwoGpus[0]], Nodes(uvmMajor: 509, gid: 44), CgroupVersion.V2, true, true);

        Assert.Contains("/dev/nvidia0,gid=993,mode=0666", plan.Lines.Select(l => l.Value));
        Assert.Contains("/dev/nvidia0,gid=44,mode=0666", withoutGroup.Lines.Select(l => l.Value));
        Assert.Equal("0660", GuestAccess.GroupMode("0600"));
    }
}
