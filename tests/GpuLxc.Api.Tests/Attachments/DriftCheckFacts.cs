using GpuLxc.Api.Attachments;
using GpuLxc.Api.Containers.Config;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Hosts;
using GpuLxc.Api.Inventory;
using GpuLxc.Api.Tests.Support;
using static GpuLxc.Api.Tests.Attachments.PlannerFixture;

namespace GpuLxc.Api.Tests.Attachments;

/// <summary>Drift, on attachments made to real Proxmox configs the way the service makes them: plan, then edit.</summary>
public sealed class DriftCheckFacts
{

    [Theory]
    [InlineData(AttachmentMode.Raw, false)]
    [InlineData(AttachmentMode.Dev, false)]
    [InlineData(AttachmentMode.Dev, true)]
    public void Of_IsInSync_WhenTheConfigHoldsEveryLineAndTheHostIsUnchanged(AttachmentMode mode, bool unprivileged)
    {
        var context = Context(uvmMajor: 509);
        var (record, config) = Attach("charlzyx-102.conf", new AttachRequest(Mode: mode), context, unprivileged);

        var drift = DriftCheck.Of(record, config, context, unprivileged);

        Assert.Equal(DriftStatus.InSync, drift.Status);
        Assert.Null(drift.Fix);
    }

    [Fact]
    public void Of_IsInSync_WhenTheRecordAdoptedLinesWrittenByHand()
    {
        var context = Context(uvmMajor: 510);
        var (record, config) = Attach("public-6006.conf", new AttachRequest(Gpus: ["0"], Mode: AttachmentMode.Raw), context, false);

        var drift = DriftCheck.Of(record, config, context, false);

        Assert.Contains(record.Lines, l => !l.Added);
        Assert.Equal(DriftStatus.InSync, drift.Status);
    }

    [Fact]
    public void Of_IsEditedByHand_WhenALineGpuLxcWroteIsGone()
    {
        var context = Context(uvmMajor: 509);
        var (record, config) = Attach("charlzyx-101.conf", new AttachRequest(Mode: AttachmentMode.Raw), context, false);
        config.RemoveAt(config.Find("lxc.cgroup2.devices.allow", "c 509:* rwm").Single());

        var drift = DriftCheck.Of(record, config, context, false);

        Assert.Equal(DriftStatus.EditedByHand, drift.Status);
        Assert.Contains("lxc.cgroup2.devices.allow: c 509:* rwm", drift.Detail, StringComparison.Ordinal);
        Assert.Contains("PUT /api/v1/containers/101/gpu", drift.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void Of_IsHostChanged_WhenAMajorMovedSinceTheAttachment()
    {
        var (record, config) = Attach("charlzyx-101.conf", new AttachRequest(Mode: AttachmentMode.Raw), Context(uvmMajor: 509), false);

        var drift = DriftCheck.Of(record, config, Context(uvmMajor: 236), false);

        Assert.Equal(DriftStatus.HostChanged, drift.Status);
        Assert.Contains("/dev/nvidia-uvm 509:0", drift.Detail, StringComparison.Ordinal);
        Assert.Contains("/dev/nvidia-uvm 236:0", drift.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Of_IsHostChanged_WhenTheContainerBecameUnprivileged()
    {
        var context = Context(uvmMajor: 509, gid: 44);
        var (record, config) = Attach("charlzyx-101.conf", new AttachRequest(Mode: AttachmentMode.Dev), context, false);

        var drift = DriftCheck.Of(record, config, context, unprivileged: true);

        Assert.Equal(DriftStatus.HostChanged, drift.Status);
    }

    [Fact]
    public void Of_IsNodesMissing_WithThePlannersFix_WhenARequiredNodeIsGone()
    {
        var (record, config) = Attach("charlzyx-101.conf", new AttachRequest(Mode: AttachmentMode.Raw), Context(uvmMajor: 509), false);
        var now = Context(uvmMajor: 509);
        now = now with { Nodes = now.Nodes with { Nodes = now.Nodes.Nodes.Select(n => n.Path == "/dev/nvidia-uvm" ? n with { Present = false } : n).ToList() } };

        var drift = DriftCheck.Of(record, config, now, false);

        Assert.Equal(DriftStatus.NodesMissing, drift.Status);
        Assert.Contains("/dev/nvidia-uvm", drift.Detail, StringComparison.Ordinal);
        Assert.Contains("nvidia-modprobe", drift.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void Of_ReplansInTheRecordedMode_WhenTheRequestSaidAuto()
    {
        var context = Context(uvmMajor: 509);
        var (record, config) = Attach("charlzyx-101.conf", new AttachRequest(), context, false, deviceEntriesSupported: false);

        var drift = DriftCheck.Of(record, config, context, false);

        Assert.Equal(AttachmentMode.Raw, record.Mode);
        Assert.Equal(DriftStatus.InSync, drift.Status);
    }

    [Fact]
    public void Of_TakesAnyDevIndex_WhenTheEntriesWereRenumbered()
    {
        var context = Context(uvmMajor: 509);
        var (record, _) = Attach("charlzyx-101.conf", new AttachRequest(Mode: AttachmentMode.Dev), context, false);
        var renumbered = record with { Lines = record.Lines.Select((l, i) => l with { Key = $"dev{40 + i}" }).ToList() };
        var config = new ProxmoxConfig(ProxmoxConfigs.Real("charlzyx-101.conf"));
        foreach (var line in renumbered.Lines)
        {
            config.Add(line.Key, line.Value);
        }

        var drift = DriftCheck.Of(renumbered, config, context, false);

        Assert.Equal(DriftStatus.InSync, drift.Status);
    }

    /// <summary>What the service does on PUT: plan against the host, edit the config, record the lines.</summary>
    private static (AttachmentRecord Record, ConfigText Config) Attach(
        string realConfig, AttachRequest request, PlanContext context, bool unprivileged, bool deviceEntriesSupported = true)
    {
        var config = new ProxmoxConfig(ProxmoxConfigs.Real(realConfig));
        var plan = AttachmentPlanner.Plan(request, context.Gpus, context.Nodes, context.Cgroup, deviceEntriesSupported, unprivileged);
        var edit = AttachmentEdit.Attach(config, null, plan.Lines);
        var record = new AttachmentRecord("101", "Proxmox", request, plan.Mode, plan.Gpus, edit.Lines, plan.Nodes, DateTimeOffset.UnixEpoch);
        return (record, config);
    }

    private static PlanContext Context(uint uvmMajor, uint gid = 0) => new(TwoGpus, Nodes(uvmMajor, gid), CgroupVersion.V2);
}
