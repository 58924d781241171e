using System.Text;
using GpuLxc.Api.Containers.Config;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Hosts;

namespace GpuLxc.Api.Tests.Containers;

public sealed class GpuConfigAuditorFacts
{
    private static readonly Dictionary<string, uint> Majors = new() { ["nvidia"] = 195, ["nvidia-uvm"] = 510, ["drm"] = 226 };

    private static readonly Dictionary<string, HostFileStat> Nodes = new()
    {
        ["/dev/nvidia0"] = new(HostFileType.CharacterDevice, 195, 0, (UnixFileMode)0x1B6, 0, 0),
        ["/dev/nvidia-uvm"] = new(HostFileType.CharacterDevice, 243, 0, (UnixFileMode)0x1B6, 0, 0),
    };

    private static GpuConfigAudit Audit(string text, bool proxmox = true, CgroupVersion cgroup = CgroupVersion.V2)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        ConfigText config = proxmox ? new ProxmoxConfig(bytes) : new LxcConfig(bytes);
        return GpuConfigAuditor.Audit("/c", config, proxmox, cgroup, Majors, path => Nodes.GetValueOrDefault(path));
    }

    [Fact]
    public void Audit_FlagsTheV1Key_WhenTheHostIsOnCgroup2()
    {
        var finding = Assert.Single(Audit("lxc.cgroup.devices.allow: c 195:* rwm\n").Findings);

        Assert.Equal(1, finding.Line);
        Assert.Contains("lxc.cgroup2.devices.allow: c 195:* rwm", finding.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void Audit_FlagsANodeWhoseMajorDisagreesWithProcDevices_WhenItIsBindMounted()
    {
        var audit = Audit("lxc.cgroup2.devices.allow = c 243:* rwm\nlxc.mount.entry = /dev/nvidia-uvm dev/nvidia-uvm none bind,optional,create=file\n", proxmox: false);

        Assert.Equal([1, 2], audit.Findings.Select(f => f.Line));
        Assert.Contains("/proc/devices gives its driver major 510", audit.Findings[1].Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Audit_FlagsAMountWithoutAnAllowRule_WhenTheNodeIsFine()
    {
        var finding = Assert.Single(Audit("lxc.mount.entry: /dev/nvidia0 dev/nvidia0 none bind,optional,create=file\n").Findings);

        Assert.Contains("EPERM", finding.Problem, StringComparison.Ordinal);
        Assert.Equal("Add `lxc.cgroup2.devices.allow: c 195:* rwm`.", finding.Fix);
    }

    [Fact]
    public void Audit_IgnoresOtherDevicesAndSnapshots_WhenTheyAreNotTheGpus()
    {
        var audit = Audit("lxc.cgroup2.devices.allow: c 226:* rwm\nlxc.cgroup2.devices.allow: c 195:* rwm\nlxc.mount.entry: /dev/nvidia0 dev/nvidia0 none bind,optional,create=file\n\n[snap]\ndev0: /dev/nvidia-modeset\n");

        Assert.Equal([2, 3], audit.Lines.Select(l => l.Line));
        Assert.Empty(audit.Findings);
    }
}
