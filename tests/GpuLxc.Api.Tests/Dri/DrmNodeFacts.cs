using GpuLxc.Api.Attachments;
using GpuLxc.Api.Hosts;
using GpuLxc.Api.Inventory;

namespace GpuLxc.Api.Tests.Dri;

public sealed class DrmNodeFacts
{
    [Theory]
    [InlineData("card0", "card", 0)]
    [InlineData("card1", "card", 1)]
    [InlineData("renderD129", "render", 129)]
    public void Parse_GivesKindAndNumber_WhenTheEntryIsANode(string name, string kind, int number) =>
        Assert.Equal((kind, number, name), DrmNodeScanner.Parse(name));

    [Theory]
    [InlineData("card1-HDMI-A-1")]
    [InlineData("controlD64")]
    [InlineData("renderD")]
    [InlineData("card1\n")]
    [InlineData("version")]
    public void Parse_GivesNull_WhenTheEntryIsNotANode(string name) => Assert.Null(DrmNodeScanner.Parse(name));

    [Fact]
    public void ByPath_IsUdevsStableLink_ForAKindAndAddress() =>
        Assert.Equal("/dev/dri/by-path/pci-0000:00:02.0-render", DrmNodeScanner.ByPath("0000:00:02.0", DrmNode.Render));

    [Theory]
    [InlineData("8086", "intel")]
    [InlineData("1002", "amd")]
    [InlineData("1a03", "aspeed")]
    [InlineData("abcd", "unknown")]
    public void VendorName_NamesTheVendor_ForItsPciId(string id, string vendor) => Assert.Equal(vendor, OtherGpu.VendorName(id));

    [Fact]
    public void Plan_NamesNodesInsideByRequestPosition_WhateverTheHostsCardOrder()
    {
        // The host's order is the reverse of the request's: the iGPU holds card1, the NVIDIA GPU card0.
        var plan = RenderNodes.Plan(["0000:00:02.0", "0000:01:00.0"], [], [Device("0000:01:00.0", 0), Device("0000:00:02.0", 1)], Majors);

        Assert.Equal(["0000:00:02.0", "0000:01:00.0"], plan.Gpus);
        Assert.Equal(
            [("/dev/dri/by-path/pci-0000:00:02.0-card", "/dev/dri/card1", "/dev/dri/card0"), ("/dev/dri/by-path/pci-0000:00:02.0-render", "/dev/dri/renderD129", "/dev/dri/renderD128"),
             ("/dev/dri/by-path/pci-0000:01:00.0-card", "/dev/dri/card0", "/dev/dri/card1"), ("/dev/dri/by-path/pci-0000:01:00.0-render", "/dev/dri/renderD128", "/dev/dri/renderD129")],
            plan.Nodes.Select(n => (n.Node.Path, n.ResolvesTo, n.InsidePath)));
        Assert.Equal(
            ["lxc.cgroup2.devices.allow: c 226:* rwm", "lxc.mount.entry: /dev/dri/by-path/pci-0000:00:02.0-card dev/dri/card0 none bind,optional,create=file"],
            RenderNodes.RawLines(plan, CgroupVersion.V2).Take(2).Select(l => $"{l.Key}: {l.Value}"));
    }

    [Fact]
    public void Plan_IsNothing_WhenTheRequestNamesNoGpu() =>
        Assert.Empty(RenderNodes.Plan(null, [], [Device("0000:00:02.0", 1)], Majors).Nodes);

    [Fact]
    public void Plan_Throws_WhenTheByPathLinkPointsElsewhere()
    {
        var stale = Device("0000:00:02.0", 1) is var d ? d with { Nodes = [d.Nodes[0] with { ByPathResolves = false }, d.Nodes[1]] } : null!;

        var error = Assert.Throws<PlanException>(() => RenderNodes.Plan(["0000:00:02.0"], [], [stale], Majors));

        Assert.Equal(DriftStatus.NodesMissing, error.Status);
        Assert.Contains("/dev/dri/by-path/pci-0000:00:02.0-card does not point to /dev/dri/card1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_ThrowsNodesBroken_WhenProcDevicesHasNoDrmMajor()
    {
        var error = Assert.Throws<PlanException>(() => RenderNodes.Plan(["0000:00:02.0"], [], [Device("0000:00:02.0", 1)], new Dictionary<string, uint> { ["nvidia-frontend"] = 195 }));

        Assert.Equal(DriftStatus.NodesBroken, error.Status);
    }

    [Fact]
    public void IsWholeMajorRule_IsTrue_OnlyForTheDrmMajorFromProcDevices()
    {
        Assert.True(RenderNodes.IsWholeMajorRule("lxc.cgroup2.devices.allow", "c 226:* rwm", Majors));
        Assert.False(RenderNodes.IsWholeMajorRule("lxc.cgroup2.devices.allow", "c 195:* rwm", Majors));
        Assert.False(RenderNodes.IsWholeMajorRule("lxc.cgroup2.devices.deny", "c 226:* rwm", Majors));
    }

    private static readonly Dictionary<string, uint> Majors = new() { ["drm"] = 226, ["nvidia-frontend"] = 195 };

    private static DrmDevice Device(string address, uint card) => new(address, "test", [
        new DrmNode(DrmNode.Card, $"/dev/dri/card{card}", DrmNodeScanner.ByPath(address, DrmNode.Card), true, true, 226, card, "0660", 0, 44),
        new DrmNode(DrmNode.Render, $"/dev/dri/renderD{128 + card}", DrmNodeScanner.ByPath(address, DrmNode.Render), true, true, 226, 128 + card, "0660", 0, 993),
    ]);
}
