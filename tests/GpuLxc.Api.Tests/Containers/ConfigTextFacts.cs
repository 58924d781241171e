using System.Text;
using GpuLxc.Api.Containers.Config;
using GpuLxc.Api.Tests.Support;

namespace GpuLxc.Api.Tests.Containers;

public sealed class ConfigTextFacts
{
    public static TheoryData<string> RealConfigs() => new(ProxmoxConfigs.RealNames());

    public static TheoryData<string> OddConfigs() => new(ProxmoxConfigs.Odd.Keys);

    [Theory]
    [MemberData(nameof(RealConfigs))]
    public void ProxmoxConfig_WritesEveryRealConfigBackByteForByte(string name)
    {
        var bytes = ProxmoxConfigs.Real(name);

        Assert.Equal(bytes, new ProxmoxConfig(bytes).ToBytes());
    }

    [Theory]
    [MemberData(nameof(OddConfigs))]
    public void ProxmoxConfig_WritesEveryOddConfigBackByteForByte(string name)
    {
        var bytes = ProxmoxConfigs.Odd[name];

        Assert.Equal(bytes, new ProxmoxConfig(bytes).ToBytes());
    }

    [Theory]
    [MemberData(nameof(RealConfigs))]
    public void ProxmoxConfig_AddingThenRemovingLinesRestoresEveryRealConfig(string name) => AssertAddRemoveRestores(ProxmoxConfigs.Real(name));

    [Theory]
    [MemberData(nameof(OddConfigs))]
    public void ProxmoxConfig_AddingThenRemovingLinesRestoresEveryOddConfig(string name) => AssertAddRemoveRestores(ProxmoxConfigs.Odd[name]);

    [Fact]
    public void ProxmoxConfig_EditsOnlyTheMainSection()
    {
        var config = new ProxmoxConfig(ProxmoxConfigs.Odd["pending-and-snapshot"]);

        config.Add("lxc.cgroup2.devices.allow", "c 195:* rwm");
        config.Add("dev0", "/dev/nvidia0");

        Assert.Equal(
            "arch: amd64\ndev0: /dev/nvidia0\nhostname: snap\nmemory: 1024\nparent: before\nlxc.cgroup2.devices.allow: c 195:* rwm\n\n" +
            "[pve:pending]\nmemory: 2048\n\n[before]\narch: amd64\nhostname: snap\nmemory: 512\nsnaptime: 1700000000\n",
            Encoding.UTF8.GetString(config.ToBytes()));
        Assert.Equal("1024", config.Get("memory"));
        Assert.Null(config.Get("snaptime"));
    }

    [Fact]
    public void ProxmoxConfig_PutsRawLinesAfterTheLastRawLineAndKeysInSortedOrder()
    {
        var config = new ProxmoxConfig(ProxmoxConfigs.Real("public-6006.conf"));

        config.Add("dev0", "/dev/nvidia0");
        config.Add("lxc.mount.entry", "/dev/nvidia-uvm dev/nvidia-uvm none bind,optional,create=file");

        var lines = config.Lines.Select(l => l.Text).ToList();
        Assert.Equal("dev0: /dev/nvidia0", lines[lines.IndexOf("cores: 46") + 1]);
        Assert.Equal("lxc.mount.entry: /dev/nvidia-uvm dev/nvidia-uvm none bind,optional,create=file", lines[^1]);
        Assert.StartsWith("lxc.init.cmd", lines[^2], StringComparison.Ordinal);
    }

    [Fact]
    public void ProxmoxConfig_WritesInTheFilesOwnLineEnding()
    {
        var config = new ProxmoxConfig(ProxmoxConfigs.Odd["crlf"]);

        config.Add("lxc.mount.entry", "/dev/nvidia0 dev/nvidia0 none bind,optional,create=file");

        Assert.EndsWith("lxc.apparmor.profile: unconfined\r\nlxc.mount.entry: /dev/nvidia0 dev/nvidia0 none bind,optional,create=file\r\n",
            Encoding.UTF8.GetString(config.ToBytes()), StringComparison.Ordinal);
    }

    [Fact]
    public void ProxmoxConfig_ReadsRawLinesInEitherFormAndSkipsDescriptions()
    {
        var config = new ProxmoxConfig(ProxmoxConfigs.Odd["equals-form-raw"]);

        Assert.Single(config.Find("lxc.cgroup2.devices.allow", "c 10:200 rwm"));
        Assert.Single(config.Find("lxc.mount.entry", "/srv srv none bind 0 0"));
        Assert.Null(new ProxmoxConfig(ProxmoxConfigs.Odd["utf8-description"]).Get("#ünïcödé raw"));
    }

    [Fact]
    public void ProxmoxConfig_ReadsTheLockOfARealSnapshotConfig()
    {
        var locked = ProxmoxConfigs.RealNames().Select(name => new ProxmoxConfig(ProxmoxConfigs.Real(name)).Get("lock")).OfType<string>().ToList();

        Assert.NotEmpty(locked);
    }

    [Fact]
    public void LxcConfig_AppendsAfterIncludesAndKeepsComments()
    {
        var original = "# Template used to create this container\nlxc.include = /usr/share/lxc/config/common.conf\n\nlxc.uts.name = \"c1\"\n\n";
        var config = new LxcConfig(Encoding.UTF8.GetBytes(original));

        config.Add("lxc.cgroup2.devices.allow", "c 195:* rwm");

        Assert.Equal("# Template used to create this container\nlxc.include = /usr/share/lxc/config/common.conf\n\nlxc.uts.name = \"c1\"\n" +
                     "lxc.cgroup2.devices.allow = c 195:* rwm\n\n", Encoding.UTF8.GetString(config.ToBytes()));
        Assert.Equal("\"c1\"", config.Get("lxc.uts.name"));
        config.RemoveAt(config.Find("lxc.cgroup2.devices.allow", "c 195:* rwm").Single());
        Assert.Equal(original, Encoding.UTF8.GetString(config.ToBytes()));
    }

    private static void AssertAddRemoveRestores(byte[] bytes)
    {
        var config = new ProxmoxConfig(bytes);
        (string Key, string Value)[] lines =
        [
            ("lxc.cgroup2.devices.allow", "c 195:* rwm"),
            ("lxc.mount.entry", "/dev/nvidia0 dev/nvidia0 none bind,optional,create=file"),
            ("dev7", "/dev/nvidia-uvm,mode=0666"),
        ];

        foreach (var (key, value) in lines)
        {
            config.Add(key, value);
        }

        Assert.NotEqual(bytes, config.ToBytes());
        foreach (var (key, value) in lines.Reverse())
        {
            config.RemoveAt(config.Find(key, value).Last());
        }

        Assert.Equal(bytes, config.ToBytes());
    }
}
