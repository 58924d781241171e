using System.Text;
using GpuLxc.Api.Containers.Config;
using GpuLxc.Api.Tests.Support;

namespace GpuLxc.Api.Tests.Containers;

public sealed class ContainerFeaturesFacts
{
    public static TheoryData<string> RealConfigs() => [.. ProxmoxConfigs.RealNames()];

    private static readonly (string, string)[] Docker = [("keyctl", "1"), ("nesting", "1")];

    [Theory]
    [InlineData(null, "keyctl=1,nesting=1")]
    [InlineData("nesting=1", "keyctl=1,nesting=1")]
    [InlineData("mount=nfs;cifs,nesting=0", "keyctl=1,mount=nfs;cifs,nesting=1")]
    [InlineData("nesting=0,fuse=1", "keyctl=1,nesting=1,fuse=1")]
    public void Require_KeepsOtherItemsAndTheirOrder_WhenAddingOrChanging(string? current, string expected) =>
        Assert.Equal(expected, ContainerFeatures.Require(current, Docker).Value);

    [Fact]
    public void Require_ChangesNothing_WhenEveryItemIsThere()
    {
        var (value, changes) = ContainerFeatures.Require("nesting=1,keyctl=1", Docker);

        Assert.Equal(("nesting=1,keyctl=1", 0), (value, changes.Count));
    }

    [Theory]
    [MemberData(nameof(RealConfigs))]
    public void SettingDockerFeatures_ChangesOnlyTheMainSectionsFeaturesLine_OnRealConfigs(string name)
    {
        var original = ProxmoxConfigs.Real(name);
        var config = new ProxmoxConfig(original);
        var before = config.Get(ContainerFeatures.Key);
        var (value, changes) = ContainerFeatures.Require(before, Docker);

        Assert.Equal(changes.Count > 0, config.Set(ContainerFeatures.Key, value));

        var originalLines = Encoding.Latin1.GetString(original).Split('\n');
        var editedLines = Encoding.Latin1.GetString(config.ToBytes()).Split('\n');
        var mainEnd = new ProxmoxConfig(original).EditableEnd;
        if (before is null)
        {
            // One line added in the main section, every other line (snapshots included) byte for byte.
            var added = Assert.Single(editedLines.Except(originalLines).Distinct());
            Assert.Equal($"features: {value}", added.TrimEnd('\r'));
            Assert.Equal(originalLines.Length + 1, editedLines.Length);
            Assert.True(Array.IndexOf(editedLines, added) < mainEnd + 1);
        }
        else
        {
            Assert.Equal(originalLines.Length, editedLines.Length);
            var differing = Enumerable.Range(0, originalLines.Length).Where(i => originalLines[i] != editedLines[i]).ToList();
            Assert.True(differing.Count == (changes.Count > 0 ? 1 : 0), $"{name}: lines {string.Join(", ", differing)} differ");
            Assert.All(differing, i => Assert.True(i < mainEnd && originalLines[i].StartsWith("features: ", StringComparison.Ordinal)));
        }

        // Setting the original value back (or removing the added line) gives the original bytes.
        var restored = new ProxmoxConfig(config.ToBytes());
        if (before is null)
        {
            restored.RemoveAt(restored.Lines.ToList().FindIndex(l => l.Text == $"features: {value}"));
        }
        else
        {
            restored.Set(ContainerFeatures.Key, before);
        }

        Assert.Equal(original, restored.ToBytes());
    }

    [Theory]
    [MemberData(nameof(RealConfigs))]
    public void SettingTheSameFeaturesAgain_WritesTheSameBytes_OnRealConfigs(string name)
    {
        var config = new ProxmoxConfig(ProxmoxConfigs.Real(name));
        var (value, _) = ContainerFeatures.Require(config.Get(ContainerFeatures.Key), Docker);
        config.Set(ContainerFeatures.Key, value);
        var once = config.ToBytes();

        var again = new ProxmoxConfig(once);
        var (same, changes) = ContainerFeatures.Require(again.Get(ContainerFeatures.Key), Docker);

        Assert.Empty(changes);
        Assert.False(again.Set(ContainerFeatures.Key, same));
        Assert.Equal(once, again.ToBytes());
    }

    [Theory]
    [InlineData("1.17.8-1", true)]
    [InlineData("1.18.0-1", true)]
    [InlineData("1.17.7-1", false)]
    [InlineData("1.17.8~rc.1-1", false)]
    [InlineData("1.9.0-1", false)]
    [InlineData("garbage", false)]
    public void FitsFloor_IsTrue_FromTheCveFixOn(string version, bool fits) => Assert.Equal(fits, GpuLxc.Api.Drivers.DockerProfile.FitsFloor(version));

    [Fact]
    public void ToolkitFloor_IsTheAuditsSecurityFloor() =>
        Assert.Equal(GpuLxc.Api.Drivers.DockerProfile.ToolkitFloor, GpuLxc.Api.Drivers.ToolkitAudit.SecurityFloor.ToString());

    [Theory]
    [InlineData("24.0.7", null, true, false)]
    [InlineData("27.5.1", null, true, true)]
    [InlineData("27.5.1", """{"features":{"cdi":true},"runtimes":{"nvidia":{}}}""", false, false)]
    [InlineData("28.2.2", null, true, false)]
    [InlineData("28.2.2", """{"features":{"cdi":false},"runtimes":{"nvidia":{}}}""", false, true)]
    public void DaemonNeeds_AsksForCdiOnlyWhereDockerHasItOff(string docker, string? daemonJson, bool runtime, bool cdi) =>
        Assert.Equal((runtime, cdi, (string?)null), GpuLxc.Api.Drivers.DockerProfile.DaemonNeeds(daemonJson, GpuLxc.Api.Drivers.DockerProfile.ParseDockerVersion(docker)!));
}
