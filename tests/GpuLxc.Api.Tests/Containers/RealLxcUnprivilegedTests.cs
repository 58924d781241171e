using System.Diagnostics;
using System.Globalization;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;
using Xunit.Abstractions;

namespace GpuLxc.Api.Tests.Containers;

/// <summary>
/// Issue 20, in real unprivileged LXC containers (root makes them with an idmap; busybox-static rootfs). The stand-in
/// nodes are root:<see cref="HostGid"/> 0660, as a driver with <c>NVreg_DeviceFileGID</c>/<c>NVreg_DeviceFileMode=0660</c>
/// makes them. A container whose idmap maps that gid to its video group (44) gets them with group video inside: a
/// non-root user in video opens them with ENXIO (allowed, no driver behind), one outside it gets EACCES. A container
/// with the default idmap is refused (409), and the same lines written by hand prove why: nobody inside can open them.
/// Shares its collection with <see cref="RealLxcTests"/>: both make stand-ins at the host's /dev/nvidia*.
/// </summary>
[Collection(nameof(RealLxcTests))]
public sealed class RealLxcUnprivilegedTests(ITestOutputHelper output) : IDisposable
{
    private const uint HostGid = 64044;
    private const string NoDevice = "No such device or address";
    private const string Denied = "Permission denied";
    private const string UserLines = "lxc.idmap = u 0 100000 65536\n";
    private const string VideoMapped = "lxc.idmap = g 0 100000 44\nlxc.idmap = g 44 64044 1\nlxc.idmap = g 45 100045 65491\n";
    private const string DefaultGroups = "lxc.idmap = g 0 100000 65536\n";

    private readonly string _prefix = Environment.GetEnvironmentVariable("GPULXC_REAL_LXC_PREFIX") ?? "gpulxc-ci-";
    private readonly List<string> _containers = [];
    private readonly List<string> _standIns = [];
    private readonly HostTree _tree = new();

    public void Dispose()
    {
        foreach (var name in _containers)
        {
            RunQuietly("lxc-stop", "-n", name, "-k");
            RunQuietly("lxc-destroy", "-n", name, "-f");
        }

        foreach (var node in _standIns)
        {
            File.Delete(node);
        }

        _tree.Dispose();
    }

    [Fact]
    public async Task TheGroupAskedForOpensTheNodesInsideAndAnUnmappedGroupIsRefusedForGoodReason()
    {
        if (!Prerequisites())
        {
            return;
        }

        var uvmMajor = MakeStandIns();
        var mapped = Create("video", VideoMapped);
        var unmapped = Create("plain", DefaultGroups);
        using var factory = new GpuLxcApiFactory(_tree);
        factory.Settings["GpuLxc:Host:Backend"] = "lxc";
        factory.Settings["GpuLxc:Host:BinPath"] = "";
        var client = factory.CreateGpuLxcClient();

        var attached = await client.AttachGpuAsync(mapped, new AttachRequest { Group = "video" });
        var before = File.ReadAllBytes($"/var/lib/lxc/{unmapped}/config");
        var refused = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.AttachGpuAsync(unmapped, new AttachRequest { Group = "video" }));
        Assert.Equal(before, File.ReadAllBytes($"/var/lib/lxc/{unmapped}/config"));

        // The refused container gets the same lines by hand: the refusal was right, nobody inside can open the nodes.
        File.AppendAllLines($"/var/lib/lxc/{unmapped}/config", attached.Result.Added);
        Start(mapped);
        Start(unmapped);

        Assert.Equal(DriftStatus.InSync, attached.Result.Attachment!.Drift.Status);
        Assert.Equal((409, "urn:gpulxc:problem:nodes-unusable-inside"), (refused.StatusCode, refused.Result.Type));
        foreach (var node in (string[])["/dev/nvidia0", "/dev/nvidiactl", "/dev/nvidia-uvm"])
        {
            Assert.Equal("44", Inside(mapped, $"stat -c %g {node}").Trim());
            Assert.Contains(NoDevice, Inside(mapped, $"su alice -c 'cat {node}'"), StringComparison.Ordinal);
            Assert.Contains(Denied, Inside(mapped, $"su bob -c 'cat {node}'"), StringComparison.Ordinal);
            Assert.Equal("65534", Inside(unmapped, $"stat -c %g {node}").Trim());
            Assert.Contains(Denied, Inside(unmapped, $"su alice -c 'cat {node}'"), StringComparison.Ordinal);
            Assert.Contains(Denied, Inside(unmapped, $"cat {node}"), StringComparison.Ordinal);
        }

        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"{uvmMajor}:* rwm"), string.Join('\n', attached.Result.Added), StringComparison.Ordinal);
        Assert.Empty(factory.ContractViolations);
    }

    /// <summary>Whether the machine can run these tests; under CI=true a missing prerequisite fails the test.</summary>
    private bool Prerequisites()
    {
        var missing = Environment.UserName != "root" ? "these tests need root (CI runs as root)"
            : !File.Exists("/usr/bin/lxc-create") || !File.Exists("/usr/share/lxc/templates/lxc-busybox") ? "lxc is not installed: `apt-get install lxc busybox-static` (.ci/run does)"
            : File.Exists("/proc/driver/nvidia/version") || Directory.EnumerateFileSystemEntries("/dev", "nvidia*").Any() ? "this machine has NVIDIA device nodes already; the stand-in nodes need a host without the driver"
            : null;
        if (missing is null)
        {
            return true;
        }

        Assert.False(string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase), $"Real unprivileged LXC tests cannot run: {missing}.");
        output.WriteLine($"Skipped: {missing}; CI runs them.");
        return false;
    }

    /// <summary>The stand-ins, root:<see cref="HostGid"/> 0660, and the host tree GpuLxc reads them through; returns the uvm major.</summary>
    private uint MakeStandIns()
    {
        var used = File.ReadAllLines("/proc/devices").Select(l => l.Trim().Split(' ')[0]).ToHashSet();
        var uvmMajor = Enumerable.Range(500, 12).Select(m => (uint)m).First(m => !used.Contains(m.ToString(CultureInfo.InvariantCulture)));
        foreach (var (path, major, minor) in new (string, uint, uint)[] { ("/dev/nvidia0", 195, 0), ("/dev/nvidiactl", 195, 255), ("/dev/nvidia-uvm", uvmMajor, 0) })
        {
            HostTree.Run("mknod", "-m", "660", path, "c", major.ToString(CultureInfo.InvariantCulture), minor.ToString(CultureInfo.InvariantCulture));
            _standIns.Add(path);
            HostTree.Run("chown", string.Create(CultureInfo.InvariantCulture, $"0:{HostGid}"), path);
        }

        _tree.WithSymlink("/dev", "/dev").WithSymlink("/run", "/run").WithSymlink("/var", "/var").WithSymlink("/sys/fs/cgroup", "/sys/fs/cgroup")
            .WithPciGpu("0000:01:00.0", "2504", "nvidia")
            .WithFile("/proc/driver/nvidia/version", "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.127.05  Tue Oct  8 03:22:07 UTC 2024\n")
            .WithFile("/proc/driver/nvidia/gpus/0000:01:00.0/information", "Model: \t\t NVIDIA GeForce RTX 3060\nDevice Minor: \t 0\n")
            .WithFile("/proc/devices", $"Character devices:\n  1 mem\n195 nvidia-frontend\n{uvmMajor} nvidia-uvm\n\nBlock devices:\n  7 loop\n");
        return uvmMajor;
    }

    /// <summary>
    /// An unprivileged busybox container with <paramref name="groupMap"/>, its own video group (gid 44) holding alice
    /// (uid 1000) and a user bob (uid 1001) outside it.
    /// </summary>
    private string Create(string role, string groupMap)
    {
        var name = $"{_prefix}{role}-{Guid.NewGuid().ToString("N")[..6]}";
        var idmap = Path.Join(_tree.Root, $"{name}.idmap");
        File.WriteAllText(idmap, UserLines + groupMap);
        _containers.Add(name);
        HostTree.Run("lxc-create", "-n", name, "-t", "busybox", "-f", idmap);
        var cgroup = File.Exists("/sys/fs/cgroup/cgroup.controllers") ? "lxc.cgroup2.devices" : "lxc.cgroup.devices";
        File.WriteAllText($"/var/lib/lxc/{name}/config", $"""
            {UserLines}{groupMap}lxc.rootfs.path = dir:/var/lib/lxc/{name}/rootfs
            lxc.uts.name = {name}
            lxc.net.0.type = empty
            lxc.apparmor.profile = unconfined
            lxc.signal.halt = SIGUSR1
            lxc.autodev = 1
            lxc.tty.max = 1
            lxc.pty.max = 1
            lxc.mount.auto = cgroup:mixed proc:mixed sys:ro
            lxc.mount.entry = /lib lib none ro,bind 0 0
            lxc.mount.entry = /usr/lib usr/lib none ro,bind 0 0
            lxc.mount.entry = /lib64 lib64 none ro,bind,optional 0 0
            {cgroup}.deny = a
            {cgroup}.allow = c 1:3 rwm
            {cgroup}.allow = c 1:5 rwm
            {cgroup}.allow = c 1:8 rwm
            {cgroup}.allow = c 1:9 rwm
            {cgroup}.allow = c 5:0 rwm
            {cgroup}.allow = c 5:2 rwm
            {cgroup}.allow = c 136:* rwm

            """);
        var etc = $"/var/lib/lxc/{name}/rootfs/etc";
        File.AppendAllText($"{etc}/group", "video:x:44:alice\nalice:x:1000:\nbob:x:1001:\n");
        File.AppendAllText($"{etc}/passwd", "alice:x:1000:1000::/:/bin/sh\nbob:x:1001:1001::/:/bin/sh\n");
        return name;
    }

    /// <summary>
    /// Starts the container with root writing its id maps itself: <c>newgidmap</c> would need <c>/etc/subgid</c> lines
    /// for root, which this machine-wide test does not add.
    /// </summary>
    private static void Start(string name)
    {
        var start = new ProcessStartInfo("/usr/bin/lxc-start", ["-n", name]) { RedirectStandardError = true };
        start.Environment["PATH"] = "/usr/sbin:/sbin";
        using (var process = Process.Start(start)!)
        {
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"lxc-start {name}: {error}");
        }

        RealLxc.WaitRunning(name);
    }

    private static string Inside(string name, string script) => RealLxc.Inside(name, script);

    private static void RunQuietly(string program, params string[] arguments) => RealLxc.RunQuietly(program, arguments);
}
