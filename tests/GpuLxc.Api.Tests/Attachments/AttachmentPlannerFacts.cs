using GpuLxc.Api.Attachments;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Hosts;
using GpuLxc.Api.Inventory;
using static GpuLxc.Api.Tests.Attachments.PlannerFixture;

namespace GpuLxc.Api.Tests.Attachments;

public sealed class AttachmentPlannerFacts
{

    [Fact]
    public void Plan_AllowsEachMajorAsTheHostAssignedIt_WithTheCgroup2KeyOnACgroup2Host()
    {
        var plan = AttachmentPlanner.Plan(new AttachRequest(Mode: AttachmentMode.Raw), TwoGpus, Nodes(uvmMajor: 509), CgroupVersion.V2, false, false);

        Assert.Equal(AttachmentMode.Raw, plan.Mode);
        Assert.Equal(
        [
            "lxc.cgroup2.devices.allow: c 195:* rwm",
            "lxc.cgroup2.devices.allow: c 509:* rwm",
            "lxc.cgroup2.devices.allow: c 511:* rwm",
            "lxc.mount.entry: /dev/nvidia-caps/nvidia-cap1 dev/nvidia-caps/nvidia-cap1 none bind,optional,create=file",
            "lxc.mount.entry: /dev/nvidia-modeset dev/nvidia-modeset none bind,optional,create=file",
            "lxc.mount.entry: /dev/nvidia-uvm dev/nvidia-uvm none bind,optional,create=file",
            "lxc.mount.entry: /dev/nvidia-uvm-tools dev/nvidia-uvm-tools none bind,optional,create=file",
            "lxc.mount.entry: /dev/nvidia0 dev/nvidia0 none bind,optional,create=file",
            "lxc.mount.entry: /dev/nvidia1 dev/nvidia1 none bind,optional,create=file",
            "lxc.mount.entry: /dev/nvidiactl dev/nvidiactl none bind,optional,create=file",
        ], plan.Lines.Select(l => $"{l.Key}: {l.Value}"));
        Assert.Equal(["0000:01:00.0", "0000:02:00.0"], plan.Gpus);
    }

    [Theory]
    [InlineData(CgroupVersion.V1)]
    [InlineData(CgroupVersion.Hybrid)]
    public void Plan_UsesTheCgroupV1Key_WhereTheDevicesControllerIsV1(CgroupVersion cgroup)
    {
        var plan = AttachmentPlanner.Plan(new AttachRequest(), TwoGpus, Nodes(uvmMajor: 236), cgroup, false, false);

        Assert.Contains(new PlannedLine("lxc.cgroup.devices.allow", "c 236:* rwm"), plan.Lines);
        Assert.DoesNotContain(plan.Lines, l => l.Key == "lxc.cgroup2.devices.allow");
    }

    [Fact]
    public void Plan_PassesOnlyTheChosenGpuAndAllowsItsMinorsOneByOne()
    {
        var plan = AttachmentPlanner.Plan(new AttachRequest(Gpus: ["0000:02:00.0"], IncludeModeset: false, IncludeUvmTools: false),
            TwoGpus, Nodes(uvmMajor: 509), CgroupVersion.V2, false, false);

        Assert.Equal(
        [
            "lxc.cgroup2.devices.allow: c 195:1 rwm",
            "lxc.cgroup2.devices.allow: c 195:255 rwm",
            "lxc.cgroup2.devices.allow: c 509:* rwm",
            "lxc.cgroup2.devices.allow: c 511:* rwm",
        ], plan.Lines.Where(l => l.Key.EndsWith("allow", StringComparison.Ordinal)).Select(l => $"{l.Key}: {l.Value}"));
        Assert.Equal(["/dev/nvidia-caps/nvidia-cap1", "/dev/nvidia-uvm", "/dev/nvidia1", "/dev/nvidiactl"], plan.Nodes.Select(n => n.Path));
    }

    [Fact]
    public void Plan_WritesDevEntriesWithModeAndGroupForAnUnprivilegedContainer()
    {
        var plan = AttachmentPlanner.Plan(new AttachRequest(Gpus: ["0"]), TwoGpus, Nodes(uvmMajor: 509, gid: 44), CgroupVersion.V2, true, true);

        Assert.Equal(AttachmentMode.Dev, plan.Mode);
        Assert.All(plan.Lines, l => Assert.True(l.IsDeviceEntry));
        Assert.Contains(new PlannedLine("dev", "/dev/nvidia0,gid=44,mode=0666"), plan.Lines);
        Assert.Contains(new PlannedLine("dev", "/dev/nvidia-caps/nvidia-cap1,gid=44,mode=0400"), plan.Lines);
    }

    [Fact]
    public void Plan_WritesBareDevEntriesForAPrivilegedContainer()
    {
        var plan = AttachmentPlanner.Plan(new AttachRequest(Mode: AttachmentMode.Dev), TwoGpus, Nodes(uvmMajor: 509), CgroupVersion.V2, true, false);

        Assert.Contains(new PlannedLine("dev", "/dev/nvidia-uvm"), plan.Lines);
    }

    [Fact]
    public void Plan_RefusesDevMode_BeforeProxmox81()
    {
        var error = Assert.Throws<PlanException>(() =>
            AttachmentPlanner.Plan(new AttachRequest(Mode: AttachmentMode.Dev), TwoGpus, Nodes(uvmMajor: 509), CgroupVersion.V2, false, false));

        Assert.Contains("8.1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_NamesTheMissingRequiredNodes_AndHowToCreateThem()
    {
        var nodes = Nodes(uvmMajor: 509);
        var withoutUvm = nodes with { Nodes = nodes.Nodes.Select(n => n.Path == "/dev/nvidia-uvm" ? n with { Present = false } : n).ToList() };

        var error = Assert.Throws<PlanException>(() => AttachmentPlanner.Plan(new AttachRequest(), TwoGpus, withoutUvm, CgroupVersion.V2, false, false));

        Assert.Contains("/dev/nvidia-uvm", error.Message, StringComparison.Ordinal);
        Assert.Contains("nvidia-modprobe", error.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_SkipsOptionalNodesTheHostLacks()
    {
        var nodes = Nodes(uvmMajor: 509);
        var withoutModeset = nodes with { Nodes = nodes.Nodes.Where(n => n.Path != "/dev/nvidia-modeset").ToList() };

        var plan = AttachmentPlanner.Plan(new AttachRequest(), TwoGpus, withoutModeset, CgroupVersion.V2, false, false);

        Assert.DoesNotContain(plan.Nodes, n => n.Path == "/dev/nvidia-modeset");
    }

    [Theory]
    [InlineData("7")]
    [InlineData("GPU-00000000-0000-0000-0000-000000000000")]
    public void Plan_RefusesAGpuTheHostDoesNotHave(string gpuId)
    {
        Assert.Throws<PlanException>(() => AttachmentPlanner.Plan(new AttachRequest(Gpus: [gpuId]), TwoGpus, Nodes(509), CgroupVersion.V2, false, false));
    }

    [Fact]
    public void Plan_RefusesAGpuBoundToAnotherDriver()
    {
        IReadOnlyList<Gpu> gpus = [Gpu(0, "0000:01:00.0") with { KernelDriver = "vfio-pci", Minor = null }];

        var error = Assert.Throws<PlanException>(() => AttachmentPlanner.Plan(new AttachRequest(Gpus: ["0"]), gpus, Nodes(509), CgroupVersion.V2, false, false));

        Assert.Contains("vfio-pci", error.Message, StringComparison.Ordinal);
    }
}
