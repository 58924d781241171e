using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Attachments;

/// <summary>
/// Issue 13, kind H: a container that can open any device makes attaching and detaching meaningless, so the attachment,
/// the attachment list and diagnostics all say so (RealLxcTests proves both sides in a real container).
/// </summary>
public sealed class DeviceConfinementApiTests
{
    private const string Rootfs = "lxc.rootfs.path = dir:/var/lib/lxc/web/rootfs\nlxc.uts.name = web\n";

    private static GpuLxcApiFactory LxcHost(string config)
    {
        var host = PveCaseHost.Create("8.2.4", "6.8.12-4-pve", "0000:01:00.0", "2504", "NVIDIA GeForce RTX 3060", "550.127.05", 510, 511)
            .Without("/etc/pve").WithoutCommand("pveversion")
            .WithCharDevice("/dev/nvidia0", 195, 0).WithCharDevice("/dev/nvidiactl", 195, 255).WithCharDevice("/dev/nvidia-uvm", 510, 0)
            .WithCommand("lxc-ls", "echo 'NAME STATE'; echo 'web STOPPED'")
            .WithCommand("lxc-info", "echo STOPPED")
            .WithFile("/var/lib/lxc/web/config", config);
        var factory = new GpuLxcApiFactory(host);
        factory.Settings["GpuLxc:Host:Backend"] = "lxc";
        return factory;
    }

    [Fact]
    public async Task APrivilegedContainerWithoutADenyAllIsFlaggedInTheAttachmentTheListAndDiagnostics()
    {
        using var factory = LxcHost(Rootfs);
        var client = factory.CreateGpuLxcClient();

        var change = (await client.AttachGpuAsync("web", new AttachRequest())).Result;
        var listed = (await client.ListAttachmentsAsync()).Single();
        var check = (await client.GetDiagnosticsAsync()).Checks.Single(c => c.Id == "container-confinement");

        Assert.False(change.Attachment!.Confinement!.DenyByDefault);
        Assert.Contains("detaching does not revoke the GPU", change.Attachment.Confinement.Detail, StringComparison.Ordinal);
        Assert.Contains("common.conf", change.Attachment.Confinement.Fix, StringComparison.Ordinal);
        Assert.False(listed.Confinement!.DenyByDefault);
        Assert.Equal(CheckStatus.Warn, check.Status);
        Assert.Contains("/var/lib/lxc/web/config", check.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("lxc.cgroup2.devices.deny = a\n", "`lxc.cgroup2.devices.deny = a` denies")]
    [InlineData("lxc.cgroup.devices.deny = a\n", "`lxc.cgroup.devices.deny = a` denies")]
    [InlineData("lxc.include = /usr/share/lxc/config/common.conf\n", "common.conf")]
    [InlineData("lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\n", "unprivileged")]
    public async Task ADenyAllAnIncludeOfCommonConfOrAUserNamespaceConfinesTheContainer(string lines, string detail)
    {
        using var factory = LxcHost(Rootfs + lines);
        var client = factory.CreateGpuLxcClient();

        var change = (await client.AttachGpuAsync("web", new AttachRequest())).Result;
        var check = (await client.GetDiagnosticsAsync()).Checks.Single(c => c.Id == "container-confinement");

        Assert.True(change.Attachment!.Confinement!.DenyByDefault);
        Assert.Contains(detail, change.Attachment.Confinement.Detail, StringComparison.Ordinal);
        Assert.Equal(CheckStatus.Pass, check.Status);
    }

    [Fact]
    public async Task AnExplicitAllowAllOpensTheContainerEvenAfterADenyAll()
    {
        using var factory = LxcHost(Rootfs + "lxc.cgroup2.devices.deny = a\nlxc.cgroup2.devices.allow = a\n");

        var change = (await factory.CreateGpuLxcClient().AttachGpuAsync("web", new AttachRequest())).Result;

        Assert.False(change.Attachment!.Confinement!.DenyByDefault);
        Assert.Contains("`lxc.cgroup2.devices.allow = a`", change.Attachment.Confinement.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task APrivilegedProxmoxContainerIsConfinedByProxmoxsOwnDenyAllAndTheAnswerSaysSo()
    {
        var host = ContainerHosts.Pve8();
        using var factory = new GpuLxcApiFactory(host);

        var change = (await factory.CreateGpuLxcClient().AttachGpuAsync("102", new AttachRequest())).Result;

        Assert.True(change.Attachment!.Confinement!.DenyByDefault);
        Assert.Contains("Proxmox generates", change.Attachment.Confinement.Detail, StringComparison.Ordinal);
    }
}
