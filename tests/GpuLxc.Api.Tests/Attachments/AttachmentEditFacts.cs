using System.Text;
using GpuLxc.Api.Attachments;
using GpuLxc.Api.Containers.Config;
using GpuLxc.Api.Tests.Support;

namespace GpuLxc.Api.Tests.Attachments;

/// <summary>The config-line mechanics of attach and detach, on real Proxmox configs and small hand-written ones.</summary>
public sealed class AttachmentEditFacts
{
    private static readonly IReadOnlyList<PlannedLine> RawPlan =
    [
        new("lxc.cgroup2.devices.allow", "c 195:* rwm"),
        new("lxc.cgroup2.devices.allow", "c 509:* rwm"),
        new("lxc.mount.entry", "/dev/nvidia0 dev/nvidia0 none bind,optional,create=file"),
        new("lxc.mount.entry", "/dev/nvidiactl dev/nvidiactl none bind,optional,create=file"),
    ];

    private static readonly IReadOnlyList<PlannedLine> DevPlan =
    [
        new(PlannedLine.DevicesKey, "/dev/nvidia0"),
        new(PlannedLine.DevicesKey, "/dev/nvidiactl"),
    ];

    public static TheoryData<string> RealConfigs() => new(ProxmoxConfigs.RealNames());

    [Theory]
    [InlineData("dev0")]
    [InlineData("dev12")]
    [InlineData("dev255")]
    public void IsDeviceKey_IsTrue_ForDevAndDigits(string key)
    {
        Assert.True(AttachmentEdit.IsDeviceKey(key));
    }

    [Theory]
    [InlineData("dev")]
    [InlineData("devices")]
    [InlineData("dev1a")]
    [InlineData("Dev0")]
    [InlineData("dev-1")]
    [InlineData("dev\u0663")]
    [InlineData("lxc.mount.entry")]
    public void IsDeviceKey_IsFalse_WhenTheKeyIsNotDevAndAsciiDigits(string key)
    {
        Assert.False(AttachmentEdit.IsDeviceKey(key));
    }

    [Fact]
    public void FreeDeviceKey_ReturnsTheLowestUnusedIndex_WhenSomeAreTaken()
    {
        var config = Config("arch: amd64\ndev0: /dev/dri/card0\ndev2: /dev/dri/renderD128\nhostname: ct\n");

        Assert.Equal("dev1", AttachmentEdit.FreeDeviceKey(config));
    }

    [Fact]
    public void FreeDeviceKey_IgnoresSnapshotSections_WhenTheyUseAnIndex()
    {
        var config = Config("arch: amd64\nhostname: ct\n\n[before]\narch: amd64\ndev0: /dev/nvidia0\n");

        Assert.Equal("dev0", AttachmentEdit.FreeDeviceKey(config));
    }

    [Fact]
    public void FreeDeviceKey_Throws_WhenAll256IndexesAreTaken()
    {
        var config = Config(string.Concat(Enumerable.Range(0, 256).Select(i => $"dev{i}: /dev/null\n")));

        Assert.Throws<InvalidOperationException>(() => AttachmentEdit.FreeDeviceKey(config));
    }

    [Fact]
    public void Present_FindsADevEntryUnderAnyIndex_WhenTheValueMatches()
    {
        var config = Config("arch: amd64\ndev5: /dev/nvidia0\n");

        Assert.Equal(("dev5", "/dev/nvidia0"), AttachmentEdit.Present(config, new PlannedLine(PlannedLine.DevicesKey, "/dev/nvidia0")));
    }

    [Fact]
    public void Present_IsNull_WhenOnlyTheKeyMatches()
    {
        var config = new ProxmoxConfig(ProxmoxConfigs.Real("public-6006.conf"));

        Assert.Null(AttachmentEdit.Present(config, new PlannedLine("lxc.cgroup2.devices.allow", "c 509:* rwm")));
        Assert.Null(AttachmentEdit.Present(config, new PlannedLine(PlannedLine.DevicesKey, "/dev/nvidia0")));
    }

    [Fact]
    public void Present_FindsARawLineWrittenByHand_InARealConfig()
    {
        var config = new ProxmoxConfig(ProxmoxConfigs.Real("public-6006.conf"));

        Assert.Equal(("lxc.cgroup2.devices.allow", "c 195:* rwm"), AttachmentEdit.Present(config, new PlannedLine("lxc.cgroup2.devices.allow", "c 195:* rwm")));
    }

    [Fact]
    public void RemoveOne_RemovesOnlyTheLastOccurrence_WhenTheLineIsThereTwice()
    {
        var config = Config("arch: amd64\nlxc.mount.entry: /dev/fuse dev/fuse none bind\nmemory: 512\nlxc.mount.entry: /dev/fuse dev/fuse none bind\n");

        var removed = AttachmentEdit.RemoveOne(config, new RecordedLine("lxc.mount.entry", "/dev/fuse dev/fuse none bind", true));

        Assert.Equal(["lxc.mount.entry: /dev/fuse dev/fuse none bind"], removed);
        Assert.Equal("arch: amd64\nlxc.mount.entry: /dev/fuse dev/fuse none bind\nmemory: 512\n", Text(config));
    }

    [Fact]
    public void RemoveOne_RemovesNothing_WhenTheLineIsGone()
    {
        var bytes = ProxmoxConfigs.Real("public-6006.conf");
        var config = new ProxmoxConfig(bytes);

        var removed = AttachmentEdit.RemoveOne(config, new RecordedLine("lxc.cgroup2.devices.allow", "c 509:* rwm", true));

        Assert.Empty(removed);
        Assert.Equal(bytes, config.ToBytes());
    }

    [Theory]
    [InlineData("dev3", "/dev/nvidia0", true)]
    [InlineData("dev3", "/dev/nvidia1", false)]
    [InlineData("lxc.mount.entry", "/dev/nvidia0", false)]
    public void Matches_TakesAnyDevIndex_ForADevEntry(string recordedKey, string recordedValue, bool expected)
    {
        Assert.Equal(expected, AttachmentEdit.Matches(new PlannedLine(PlannedLine.DevicesKey, "/dev/nvidia0"), new RecordedLine(recordedKey, recordedValue, true)));
    }

    [Theory]
    [InlineData("lxc.cgroup2.devices.allow", true)]
    [InlineData("lxc.cgroup.devices.allow", false)]
    public void Matches_WantsTheSameKey_ForARawLine(string recordedKey, bool expected)
    {
        Assert.Equal(expected, AttachmentEdit.Matches(new PlannedLine("lxc.cgroup2.devices.allow", "c 195:* rwm"), new RecordedLine(recordedKey, "c 195:* rwm", true)));
    }

    [Fact]
    public void Attach_AdoptsLinesWrittenByHand_AndAddsOnlyTheRest_WhenTheConfigHasSome()
    {
        var config = new ProxmoxConfig(ProxmoxConfigs.Real("public-6006.conf"));

        var edit = AttachmentEdit.Attach(config, null, RawPlan);

        Assert.Equal(["lxc.cgroup2.devices.allow: c 509:* rwm"], edit.Added);
        Assert.Empty(edit.Removed);
        Assert.True(edit.Changed);
        Assert.Equal(
        [
            new RecordedLine("lxc.cgroup2.devices.allow", "c 195:* rwm", false),
            new RecordedLine("lxc.cgroup2.devices.allow", "c 509:* rwm", true),
            new RecordedLine("lxc.mount.entry", "/dev/nvidia0 dev/nvidia0 none bind,optional,create=file", false),
            new RecordedLine("lxc.mount.entry", "/dev/nvidiactl dev/nvidiactl none bind,optional,create=file", false),
        ], edit.Lines);
    }

    [Fact]
    public void Attach_ChangesNothing_AndKeepsItsOwnLinesOwned_WhenTheRecordedLinesAreThere()
    {
        var config = new ProxmoxConfig(ProxmoxConfigs.Real("charlzyx-101.conf"));
        var first = AttachmentEdit.Attach(config, null, RawPlan);
        var written = config.ToBytes();

        var again = AttachmentEdit.Attach(config, Record(first.Lines), RawPlan);

        Assert.False(again.Changed);
        Assert.Equal(first.Lines, again.Lines);
        Assert.All(again.Lines, l => Assert.True(l.Added));
        Assert.Equal(written, config.ToBytes());
    }

    [Fact]
    public void Attach_RemovesLinesItAddedThatThePlanDropped_ButNotHandWrittenOnes()
    {
        var config = new ProxmoxConfig(ProxmoxConfigs.Real("public-6006.conf"));
        var first = AttachmentEdit.Attach(config, null, RawPlan);

        var second = AttachmentEdit.Attach(config, Record(first.Lines), RawPlan.Where(l => l.Value != "c 509:* rwm" && l.Value != "c 195:* rwm").ToList());

        Assert.Equal(["lxc.cgroup2.devices.allow: c 509:* rwm"], second.Removed);
        Assert.Empty(second.Added);
        Assert.Single(config.Find("lxc.cgroup2.devices.allow", "c 195:* rwm"));
        Assert.Equal(ProxmoxConfigs.Real("public-6006.conf"), config.ToBytes());
    }

    [Fact]
    public void Attach_PutsDevEntriesUnderFreeIndexes_WhenSomeAreTaken()
    {
        var config = Config("arch: amd64\ndev0: /dev/dri/card0\nhostname: ct\n");

        var edit = AttachmentEdit.Attach(config, null, DevPlan);

        Assert.Equal(["dev1: /dev/nvidia0", "dev2: /dev/nvidiactl"], edit.Added);
        Assert.Equal("arch: amd64\ndev0: /dev/dri/card0\ndev1: /dev/nvidia0\ndev2: /dev/nvidiactl\nhostname: ct\n", Text(config));
    }

    [Fact]
    public void Attach_KeepsADevEntryWhereItIs_WhenItsIndexDiffersFromTheRecord()
    {
        var config = Config("arch: amd64\ndev7: /dev/nvidia0\nhostname: ct\n");

        var edit = AttachmentEdit.Attach(config, Record([new RecordedLine("dev7", "/dev/nvidia0", true)]), DevPlan.Take(1).ToList());

        Assert.False(edit.Changed);
        Assert.Equal([new RecordedLine("dev7", "/dev/nvidia0", true)], edit.Lines);
    }

    [Theory]
    [MemberData(nameof(RealConfigs))]
    public void Detach_RestoresTheConfigByteForByte_AfterAnAttach(string name)
    {
        var bytes = ProxmoxConfigs.Real(name);
        var config = new ProxmoxConfig(bytes);
        var attached = AttachmentEdit.Attach(config, null, [.. RawPlan, .. DevPlan]);

        var removed = AttachmentEdit.Detach(config, Record(attached.Lines));

        Assert.NotEmpty(removed);
        Assert.Equal(attached.Added.Order(StringComparer.Ordinal), removed.Order(StringComparer.Ordinal));
        Assert.Equal(bytes, config.ToBytes());
    }

    [Fact]
    public void Detach_LeavesAdoptedLines_WhenTheyWereThereBefore()
    {
        var config = new ProxmoxConfig(ProxmoxConfigs.Real("public-6006.conf"));
        var attached = AttachmentEdit.Attach(config, null, RawPlan);

        var removed = AttachmentEdit.Detach(config, Record(attached.Lines));

        Assert.Equal(["lxc.cgroup2.devices.allow: c 509:* rwm"], removed);
        Assert.Single(config.Find("lxc.mount.entry", "/dev/nvidia0 dev/nvidia0 none bind,optional,create=file"));
    }

    [Fact]
    public void SameAttachment_IsTrue_WhenOnlyTheTimeAndTheListInstancesDiffer()
    {
        var a = Record([new RecordedLine("dev0", "/dev/nvidia0", true)], gpus: ["0000:01:00.0"]);
        var b = Record([new RecordedLine("dev0", "/dev/nvidia0", true)], gpus: ["0000:01:00.0"]) with { UpdatedAt = a.UpdatedAt.AddHours(1) };

        Assert.True(AttachmentEdit.SameAttachment(a, b));
    }

    [Fact]
    public void SameAttachment_IsFalse_WhenTheRequestedGpusDiffer()
    {
        var a = Record([new RecordedLine("dev0", "/dev/nvidia0", true)], gpus: ["0000:01:00.0"]);
        var b = a with { Request = a.Request with { Gpus = ["0000:02:00.0"] } };

        Assert.False(AttachmentEdit.SameAttachment(a, b));
    }

    [Fact]
    public void SameAttachment_IsFalse_WhenALineIsNoLongerOwned()
    {
        var a = Record([new RecordedLine("dev0", "/dev/nvidia0", true)]);
        var b = Record([new RecordedLine("dev0", "/dev/nvidia0", false)]);

        Assert.False(AttachmentEdit.SameAttachment(a, b));
    }

    private static ProxmoxConfig Config(string text) => new(Encoding.UTF8.GetBytes(text));

    private static string Text(ConfigText config) => Encoding.UTF8.GetString(config.ToBytes());

    private static AttachmentRecord Record(IReadOnlyList<RecordedLine> lines, IReadOnlyList<string>? gpus = null) => new(
        "101", "Proxmox", new AttachRequest(Gpus: gpus?.ToList()), AttachmentMode.Raw, gpus?.ToList() ?? ["0000:01:00.0"], lines.ToList(),
        [new AttachedNode("/dev/nvidia0", 195, 0)], new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero));
}
