using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Cases;

/// <summary>
/// Issue 20, case <c>unpriv-lxc-root-video-0660</c>. Source: https://github.com/canonical/lxd/issues/5625 — on a host
/// whose driver makes every NVIDIA node root:video (gid 27) 0660, an unprivileged container could use the GPU only after
/// <c>chmod 666 /dev/nvidia*</c> on the host: its idmap (u/g 0 100000 65536) leaves gid 27 unmapped, so the bound nodes
/// show inside as nobody:nogroup 0660. Here: plain LXC on Funtoo, GTX 1060 6GB on 410.93, uvm 243, container "cuda".
/// </summary>
public sealed class UnprivilegedRootVideo0660Tests
{
    private const string Config = "/var/lib/lxc/cuda/config";
    private const string DefaultMap = "lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\n";
    private const string VideoMapped = "lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 27\nlxc.idmap = g 27 27 1\nlxc.idmap = g 28 100028 65508\n";

    private static string CudaConfig(string idmap) => $"""
        # Distribution configuration
        lxc.include = /usr/share/lxc/config/common.conf
        lxc.include = /usr/share/lxc/config/userns.conf
        lxc.arch = linux64

        # Container specific configuration
        {idmap}lxc.rootfs.path = dir:/var/lib/lxc/cuda/rootfs
        lxc.uts.name = cuda

        # Network configuration
        lxc.net.0.type = veth
        lxc.net.0.link = lxcbr0
        lxc.net.0.flags = up
        lxc.net.0.hwaddr = 00:16:3e:00:00:63

        """;

    private static GpuLxcApiFactory Service(string idmap, string nodeMode = "660", string guestGroups = "root:x:0:\nvideo:x:27:\n")
    {
        var host = ReportHosts.Proxmox("8.2.4", "5.0.5-gentoo", "410.93")
            .Without("/etc/pve")
            .WithFile("/etc/os-release", "NAME=\"Funtoo Linux\"\nID=funtoo\nID_LIKE=gentoo\nPRETTY_NAME=\"Funtoo Linux\"\n")
            .WithNvidiaGpu("0000:08:00.0", "1c03", 0, "GeForce GTX 1060 6GB")
            .WithDriverLoaded("410.93")
            .WithFile("/proc/driver/nvidia/params", "DeviceFileUID: 0\nDeviceFileGID: 27\nDeviceFileMode: 432\n")
            .WithProcDevices(243, 242)
            .WithFile("/etc/group", "root:x:0:\nvideo:x:27:root\n")
            .WithFile("/etc/subgid", "root:100000:65536\nroot:27:1\n")
            .WithSmi("0, GPU-0000cafe-0000-4000-8000-000000000000, GeForce GTX 1060 6GB, 00000000:08:00.0, 410.93, 86.06.0E.00.99, 0, 0, 0, 0")
            .WithFile(Config, CudaConfig(idmap))
            .WithFile("/var/lib/lxc/cuda/rootfs/etc/group", guestGroups)
            .WithCommand("lxc-ls", "echo 'NAME STATE'; echo 'cuda STOPPED'")
            .WithCommand("lxc-info", "echo STOPPED");
        foreach (var (path, major, minor) in new (string, uint, uint)[] { ("/dev/nvidia0", 195, 0), ("/dev/nvidiactl", 195, 255), ("/dev/nvidia-modeset", 195, 254), ("/dev/nvidia-uvm", 243, 0), ("/dev/nvidia-uvm-tools", 243, 1) })
        {
            host.WithCharDevice(path, major, minor, nodeMode);
            HostTree.Run("chown", "0:27", host.PathOf(path));
        }

        var factory = new GpuLxcApiFactory(host);
        factory.Settings["GpuLxc:Host:Backend"] = "lxc";
        return factory;
    }

    [Fact]
    public async Task AttachingNodesTheIdmapLeavesAsNobodyNogroupIsRefusedWithBothFixesAndChangesNothing()
    {
        using var factory = Service(DefaultMap);
        var client = factory.CreateGpuLxcClient();
        var original = factory.Host.Bytes(Config);

        var dryRun = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.AttachGpuAsync("cuda", new AttachRequest(), dryRun: true));
        var error = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.AttachGpuAsync("cuda", new AttachRequest()));

        Assert.Equal((409, "urn:gpulxc:problem:nodes-unusable-inside"), (error.StatusCode, error.Result.Type));
        Assert.Equal(error.Result.Type, dryRun.Result.Type);
        Assert.Contains("/dev/nvidia0 is root:27 0660 on the host and shows inside as nobody:nogroup 0660", error.Result.Detail, StringComparison.Ordinal);
        Assert.Contains("/dev/nvidiactl is root:27 0660", error.Result.Detail, StringComparison.Ordinal);
        Assert.Contains("/dev/nvidia-uvm is root:27 0660", error.Result.Detail, StringComparison.Ordinal);
        var fix = error.Result.AdditionalProperties["fix"].ToString();
        Assert.Contains("`lxc.idmap = g 0 100000 27`, `lxc.idmap = g 27 27 1`, `lxc.idmap = g 28 100028 65508`", fix, StringComparison.Ordinal);
        Assert.Contains("(/etc/subgid already allows root to map it)", fix, StringComparison.Ordinal);
        Assert.Contains("NVreg_DeviceFileMode=0666", fix, StringComparison.Ordinal);
        Assert.Equal(original, factory.Host.Bytes(Config));
        Assert.Empty(await client.ListAttachmentsAsync());
        Assert.Empty(factory.ContractViolations);
    }

    [Fact]
    public async Task WithVideoMappedTheGroupAskedForIsTheNodesGroupInsideAndTheAttachmentIsInSync()
    {
        using var factory = Service(VideoMapped);
        var client = factory.CreateGpuLxcClient();

        var change = await client.AttachGpuAsync("cuda", new AttachRequest { Group = "video" });

        Assert.True(change.Result.Changed);
        Assert.Contains("lxc.mount.entry = /dev/nvidia0 dev/nvidia0 none bind,optional,create=file", change.Result.Added);
        Assert.Empty(change.Result.Warnings);
        Assert.Equal(DriftStatus.InSync, change.Result.Attachment!.Drift.Status);
        Assert.Equal(DriftStatus.InSync, Assert.Single(await client.ListAttachmentsAsync()).Drift.Status);
    }

    [Fact]
    public async Task AGroupWhoseGidInsideIsNotTheNodesMappedGroupIsRefused()
    {
        // Host gid 27 shows inside as gid 27, but the guest's own video group is 44 (as on Debian).
        using var factory = Service(VideoMapped, guestGroups: "root:x:0:\nvideo:x:44:\nlp:x:27:\n");
        var client = factory.CreateGpuLxcClient();

        var error = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.AttachGpuAsync("cuda", new AttachRequest { Group = "video" }));
        var unknown = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.AttachGpuAsync("cuda", new AttachRequest { Group = "render" }));

        Assert.Equal("urn:gpulxc:problem:nodes-unusable-inside", error.Result.Type);
        Assert.Contains("the container's group video (gid 44 inside, host gid 100044)", error.Result.Detail, StringComparison.Ordinal);
        Assert.Contains("shows inside as nobody:27 0660", error.Result.Detail, StringComparison.Ordinal);
        Assert.Contains("`lxc.idmap = g 44 27 1`", error.Result.AdditionalProperties["fix"].ToString(), StringComparison.Ordinal);
        Assert.Equal((409, "urn:gpulxc:problem:cannot-attach"), (unknown.StatusCode, unknown.Result.Type));
        Assert.Contains("has no group 'render'", unknown.Result.Detail, StringComparison.Ordinal);
        Assert.Empty(factory.ContractViolations);
    }

    [Fact]
    public async Task NodesThatBecomeRootVideo0660AfterTheAttachmentAreNeverInSync()
    {
        using var factory = Service(DefaultMap, nodeMode: "666");
        var client = factory.CreateGpuLxcClient();
        Assert.Equal(DriftStatus.InSync, (await client.AttachGpuAsync("cuda", new AttachRequest())).Result.Attachment!.Drift.Status);

        // A driver reinstall with Gentoo's NVreg_DeviceFileMode=0660.
        foreach (var node in new[] { "/dev/nvidia0", "/dev/nvidiactl", "/dev/nvidia-uvm" })
        {
            File.SetUnixFileMode(factory.Host.PathOf(node), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
        }

        var drift = Assert.Single(await client.ListAttachmentsAsync()).Drift;
        var container = (await client.GetContainerAsync("cuda")).Attachment!;

        Assert.Equal(DriftStatus.NodesUnusable, drift.Status);
        Assert.Equal(DriftStatus.NodesUnusable, container.Drift);
        Assert.Contains("shows inside as nobody:nogroup 0660", drift.Detail, StringComparison.Ordinal);
        Assert.Contains("NVreg_DeviceFileMode=0666", drift.Fix, StringComparison.Ordinal);
    }
}
