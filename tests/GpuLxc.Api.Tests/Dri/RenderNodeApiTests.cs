using System.Text;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Dri;

/// <summary>
/// Render nodes by PCI address (issue 20) on a host whose card order differs from its PCI order: the NVIDIA GPU
/// (01:00.0) has card0/renderD128, the Intel iGPU (00:02.0) card1/renderD129.
/// </summary>
public sealed class RenderNodeApiTests
{
    private const string Config101 = "/etc/pve/lxc/101.conf";
    private const string Config102 = "/etc/pve/lxc/102.conf";
    private const string IgpuRender = "/dev/dri/by-path/pci-0000:00:02.0-render";
    private const string IgpuCard = "/dev/dri/by-path/pci-0000:00:02.0-card";

    [Fact]
    public async Task TheInventoryListsTheIgpuBesideTheNvidiaGpuWithTheNodesTheirDriversMade()
    {
        using var factory = new GpuLxcApiFactory(IgpuHosts.NvidiaProbedFirst());

        var list = await factory.CreateGpuLxcClient(TestKeys.Read).ListGpusAsync();

        var nvidia = Assert.Single(list.Gpus);
        Assert.Equal(IgpuHosts.Nvidia, nvidia.PciAddress);
        Assert.Equal(["/dev/dri/card0", "/dev/dri/renderD128"], nvidia.DrmNodes!.Select(n => n.Path));
        var igpu = Assert.Single(list.OtherGpus!);
        Assert.Equal((IgpuHosts.Igpu, "intel", "8086", "a780", "i915"), (igpu.PciAddress, igpu.Vendor, igpu.VendorId, igpu.DeviceId, igpu.KernelDriver));
        Assert.Equal(["card", "render"], igpu.DrmNodes.Select(n => n.Kind));
        var render = igpu.DrmNodes.Single(n => n.Kind == "render");
        Assert.Equal(("/dev/dri/renderD129", IgpuRender, true, true), (render.Path, render.ByPath, render.ByPathResolves, render.Present));
        Assert.Equal((226, 129, "0660", (int)IgpuHosts.RenderGid), (render.Major, render.Minor, render.Mode, render.Gid));
        Assert.Empty(igpu.Notes);
    }

    [Fact]
    public async Task NvidiaRoutesSayTheIgpuIsNotAnNvidiaGpu()
    {
        using var factory = new GpuLxcApiFactory(IgpuHosts.NvidiaProbedFirst());
        var client = factory.CreateGpuLxcClient(TestKeys.Read);

        var gpu = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.GetGpuAsync(IgpuHosts.Igpu));
        var processes = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.ListGpuProcessesAsync("00:02.0"));

        Assert.Equal((404, 404), (gpu.StatusCode, processes.StatusCode));
        Assert.Contains("intel GPU (driver i915), not an NVIDIA one", gpu.Result.Detail, StringComparison.Ordinal);
        Assert.Contains("\"drm\": [\"0000:00:02.0\"]", processes.Result.AdditionalProperties["fix"].ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AttachingTheIgpuByPciAddressBindsItsByPathLinksNotTheFirstCard()
    {
        using var factory = new GpuLxcApiFactory(IgpuHosts.NvidiaProbedFirst());

        var change = (await factory.CreateGpuLxcClient().AttachGpuAsync("102", new AttachRequest { Mode = AttachmentMode.Raw, Drm = [IgpuHosts.Igpu] })).Result;

        var written = Encoding.UTF8.GetString(factory.Host.Bytes(Config102));
        Assert.Contains($"lxc.mount.entry: {IgpuCard} dev/dri/card0 none bind,optional,create=file\n", written, StringComparison.Ordinal);
        Assert.Contains($"lxc.mount.entry: {IgpuRender} dev/dri/renderD128 none bind,optional,create=file\n", written, StringComparison.Ordinal);
        Assert.Contains("lxc.cgroup2.devices.allow: c 226:* rwm\n", written, StringComparison.Ordinal);
        Assert.DoesNotContain("lxc.mount.entry: /dev/dri/renderD", written, StringComparison.Ordinal);
        Assert.DoesNotContain("lxc.mount.entry: /dev/dri/card", written, StringComparison.Ordinal);
        // What the link reaches on the host is the iGPU's node, not renderD128 (the NVIDIA GPU's).
        Assert.Equal("renderD129", File.ResolveLinkTarget(factory.Host.PathOf(IgpuRender), returnFinalTarget: true)!.Name);
        var node = change.Attachment!.DeviceNodes.Single(n => n.Path == IgpuRender);
        Assert.Equal(("/dev/dri/renderD129", "/dev/dri/renderD128", 226, 129), (node.ResolvesTo, node.InsidePath, node.Major, node.Minor));
        Assert.Equal([IgpuHosts.Igpu], change.Attachment.Drm);
        Assert.Contains("c 226:* rwm` allows every DRM card and render node", change.Attachment.Confinement!.Detail, StringComparison.Ordinal);
        Assert.Equal(DriftStatus.InSync, change.Attachment.Drift.Status);
    }

    [Fact]
    public async Task AfterTheCardOrderChangesAtBootTheConfigStaysAndDriftIsInSync()
    {
        using var factory = new GpuLxcApiFactory(IgpuHosts.NvidiaProbedFirst());
        var client = factory.CreateGpuLxcClient();
        var request = new AttachRequest { Mode = AttachmentMode.Raw, Drm = [IgpuHosts.Igpu] };
        await client.AttachGpuAsync("102", request);
        var written = factory.Host.Bytes(Config102);

        IgpuHosts.WithCardOrder(factory.Host, nvidiaFirst: false);
        var attachment = (await client.GetAttachmentAsync("102")).Result;
        var again = (await client.AttachGpuAsync("102", request)).Result;

        Assert.Equal(DriftStatus.InSync, attachment.Drift.Status);
        var node = attachment.DeviceNodes.Single(n => n.Path == IgpuRender);
        Assert.Equal(("/dev/dri/renderD128", 128), (node.ResolvesTo, node.Minor));
        Assert.False(again.Changed);
        Assert.Equal(written, factory.Host.Bytes(Config102));
        // The same line now reaches renderD128, which is the iGPU's after this boot.
        Assert.Equal("renderD128", File.ResolveLinkTarget(factory.Host.PathOf(IgpuRender), returnFinalTarget: true)!.Name);
        Assert.True(Directory.Exists(factory.Host.PathOf($"/sys/bus/pci/devices/{IgpuHosts.Igpu}/drm/renderD128")));
    }

    [Fact]
    public async Task DevModeNamesTheByPathLinksAndTheNodesShowInsideAtThoseNames()
    {
        using var factory = new GpuLxcApiFactory(IgpuHosts.NvidiaProbedFirst());

        var change = (await factory.CreateGpuLxcClient().AttachGpuAsync("101", new AttachRequest { Drm = ["00:02.0"] })).Result;

        var written = Encoding.UTF8.GetString(factory.Host.Bytes(Config101));
        Assert.Equal(AttachmentMode.Dev, change.Attachment!.Mode);
        // Unprivileged and no group asked for: the host node's gid and mode, as for the NVIDIA nodes.
        Assert.Contains($": {IgpuCard},gid={IgpuHosts.VideoGid},mode=0660\n", written, StringComparison.Ordinal);
        Assert.Contains($": {IgpuRender},gid={IgpuHosts.RenderGid},mode=0660\n", written, StringComparison.Ordinal);
        var node = change.Attachment.DeviceNodes.Single(n => n.Path == IgpuRender);
        Assert.Equal((IgpuRender, "/dev/dri/renderD129"), (node.InsidePath, node.ResolvesTo));
        Assert.Equal([IgpuHosts.Igpu], change.Attachment.Drm);
        Assert.Equal(DriftStatus.InSync, change.Attachment.Drift.Status);
    }

    [Theory]
    [InlineData("101")]
    [InlineData("102")]
    public async Task AnIgpuThatIsGoneLeavesItsAttachmentNodesMissing(string vmid)
    {
        using var factory = new GpuLxcApiFactory(IgpuHosts.NvidiaProbedFirst());
        var client = factory.CreateGpuLxcClient();
        await client.AttachGpuAsync(vmid, new AttachRequest { Mode = vmid == "101" ? AttachmentMode.Dev : AttachmentMode.Raw, Drm = [IgpuHosts.Igpu] });

        factory.Host.Without($"/sys/bus/pci/devices/{IgpuHosts.Igpu}/drm").Without(IgpuRender).Without(IgpuCard);
        var attachment = (await client.GetAttachmentAsync(vmid)).Result;

        Assert.Equal(DriftStatus.NodesMissing, attachment.Drift.Status);
        Assert.Contains(vmid == "101" ? IgpuRender : IgpuHosts.Igpu, attachment.Drift.Detail, StringComparison.Ordinal);
        Assert.Null(attachment.DeviceNodes.Single(n => n.Path == IgpuRender).ResolvesTo);
        // An Intel GPU's link is udev's to remake; NVIDIA's tools and an "optional mount" PUT do nothing for it.
        Assert.DoesNotContain("nvidia-smi", attachment.Drift.Fix, StringComparison.Ordinal);
        Assert.DoesNotContain("optional mount", attachment.Drift.Fix, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0000:05:00.0")]
    [InlineData("GPU-00000000-0000-0000-0000-000000000000")]
    public async Task AGpuIdWithoutDrmNodesIsRefusedNamingTheGpusThatHaveThemAndNothingIsWritten(string id)
    {
        using var factory = new GpuLxcApiFactory(IgpuHosts.NvidiaProbedFirst());
        var original = factory.Host.Bytes(Config101);

        var error = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() =>
            factory.CreateGpuLxcClient().AttachGpuAsync("101", new AttachRequest { Drm = [id] }));

        Assert.Equal(409, error.StatusCode);
        Assert.Contains($"'{id}' is not a GPU with DRM nodes", error.Result.Detail, StringComparison.Ordinal);
        Assert.Contains("0000:00:02.0 (intel, i915: /dev/dri/card1, /dev/dri/renderD129)", error.Result.Detail, StringComparison.Ordinal);
        Assert.Contains("0000:01:00.0 (nvidia, nvidia", error.Result.Detail, StringComparison.Ordinal);
        Assert.Equal(original, factory.Host.Bytes(Config101));
    }

    [Fact]
    public async Task DetachRemovesExactlyTheLinesTheAttachWrote()
    {
        using var factory = new GpuLxcApiFactory(IgpuHosts.NvidiaProbedFirst());
        var client = factory.CreateGpuLxcClient();
        var original = factory.Host.Bytes(Config102);
        await client.AttachGpuAsync("102", new AttachRequest { Mode = AttachmentMode.Raw, Drm = [IgpuHosts.Igpu, IgpuHosts.Nvidia] });

        var detached = (await client.DetachGpuAsync("102")).Result;

        Assert.Contains($"lxc.mount.entry: {IgpuRender} dev/dri/renderD128 none bind,optional,create=file", detached.Removed);
        Assert.Contains("lxc.mount.entry: /dev/dri/by-path/pci-0000:01:00.0-render dev/dri/renderD129 none bind,optional,create=file", detached.Removed);
        Assert.Equal(original, factory.Host.Bytes(Config102));
    }

    [Fact]
    public async Task AnUnprivilegedContainerThatCannotOpenTheRenderNodeIsAConflict()
    {
        using var factory = new GpuLxcApiFactory(IgpuHosts.NvidiaProbedFirst());
        var original = factory.Host.Bytes(Config101);

        var error = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() =>
            factory.CreateGpuLxcClient().AttachGpuAsync("101", new AttachRequest { Mode = AttachmentMode.Raw, Drm = [IgpuHosts.Igpu] }));

        Assert.Equal(409, error.StatusCode);
        Assert.Equal("urn:gpulxc:problem:nodes-unusable-inside", error.Result.Type);
        Assert.Contains($"{IgpuRender} is root:{IgpuHosts.RenderGid} 0660 on the host and shows inside as nobody:nogroup", error.Result.Detail, StringComparison.Ordinal);
        Assert.Contains("udev rule", error.Result.AdditionalProperties["fix"].ToString(), StringComparison.Ordinal);
        Assert.Equal(original, factory.Host.Bytes(Config101));
    }
}
