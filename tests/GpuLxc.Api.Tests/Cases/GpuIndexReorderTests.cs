using System.Text;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Cases;

/// <summary>
/// Issue 13, kind I (a GPU is known by what does not change), case <c>gpu-index-reorder</c>. Source:
/// https://github.com/tensorflow/tensorflow/issues/32881 — device numbers differed between tools on one machine; the
/// thread cites NVML's documentation: its enumeration order may change between reboots, so look GPUs up by PCI bus id
/// or UUID. Here: PVE 8.2, an RTX 3090 at 0000:01:00.0 (minor 0) and a GTX 1650 at 0000:02:00.0 (minor 1) on
/// 550.127.05; Jellyfin in container 130 gets the 1650. After a reboot NVML numbers them the other way round.
/// </summary>
public sealed class GpuIndexReorderTests
{
    private const string Rtx3090 = "GPU-0000cafe-0000-4000-8000-000000003090, NVIDIA GeForce RTX 3090, 00000000:01:00.0, 550.127.05, 94.02.42.00.A9, 0, 0, 0, 0";
    private const string Gtx1650 = "GPU-0000cafe-0000-4000-8000-000000001650, NVIDIA GeForce GTX 1650, 00000000:02:00.0, 550.127.05, 90.17.3D.00.4E, 0, 0, 0, 0";

    private static HostTree Before() => ReportHosts.Proxmox("8.2.7", "6.8.12-4-pve", "550.127.05")
        .WithNvidiaGpu("0000:01:00.0", "2204", 0, "NVIDIA GeForce RTX 3090")
        .WithNvidiaGpu("0000:02:00.0", "1f82", 1, "NVIDIA GeForce GTX 1650")
        .WithDriverLoaded("550.127.05")
        .WithProcDevices(uvm: 508, caps: 509)
        .WithNodes(508, 0, 1)
        .WithSmi($"0, {Rtx3090}", $"1, {Gtx1650}")
        .WithContainer("130", ReportHosts.PlainContainer("130", "jellyfin"));

    /// <summary>The reboot: NVML enumerates the 1650 first; addresses, UUIDs, minors and nodes are as before.</summary>
    private static async Task RebootRenumberingAsync(GpuLxcApiFactory factory, IGpuLxcClient client)
    {
        factory.Host.WithSmi($"0, {Gtx1650}", $"1, {Rtx3090}");
        var gpus = await client.ListGpusAsync(refresh: true);
        Assert.Equal(0, gpus.Gpus.Single(g => g.PciAddress == "0000:02:00.0").Index);
    }

    [Fact]
    public async Task AnIndexIsResolvedOnceAndTheAttachmentKeepsThePciAddress()
    {
        using var factory = new GpuLxcApiFactory(Before());
        var client = factory.CreateGpuLxcClient();

        var change = (await client.AttachGpuAsync("130", new AttachRequest { Gpus = ["1"] })).Result;

        Assert.Equal(["0000:02:00.0"], change.Attachment!.Gpus);
        Assert.Contains(change.Attachment.DeviceNodes, n => n.Path == "/dev/nvidia1");
        Assert.DoesNotContain(change.Attachment.DeviceNodes, n => n.Path == "/dev/nvidia0");
    }

    [Fact]
    public async Task AfterARebootThatOnlyRenumbersTheGpusTheAttachmentIsInSync()
    {
        using var factory = new GpuLxcApiFactory(Before());
        var client = factory.CreateGpuLxcClient();
        await client.AttachGpuAsync("130", new AttachRequest { Gpus = ["1"] });

        await RebootRenumberingAsync(factory, client);
        var attachment = Assert.Single(await client.ListAttachmentsAsync());

        Assert.Equal(DriftStatus.InSync, attachment.Drift.Status);
        Assert.Equal(["0000:02:00.0"], attachment.Gpus);
        Assert.Contains(attachment.DeviceNodes, n => n.Path == "/dev/nvidia1" && n.Major == 195 && n.Minor == 1);
    }

    [Fact]
    public async Task RepeatingThePutByIndexAfterTheRebootIsRefusedInsteadOfMovingTheContainer()
    {
        using var factory = new GpuLxcApiFactory(Before());
        var client = factory.CreateGpuLxcClient();
        await client.AttachGpuAsync("130", new AttachRequest { Gpus = ["1"] });
        var attached = factory.Host.Bytes("/etc/pve/lxc/130.conf");
        await RebootRenumberingAsync(factory, client);

        var error = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.AttachGpuAsync("130", new AttachRequest { Gpus = ["1"] }, dryRun: true));
        var byAddress = (await client.AttachGpuAsync("130", new AttachRequest { Gpus = ["0000:02:00.0"] })).Result;

        Assert.Equal(409, error.StatusCode);
        Assert.Contains("attached to 0000:02:00.0", error.Result.Detail, StringComparison.Ordinal);
        Assert.Contains("index 1 names 0000:01:00.0", error.Result.Detail, StringComparison.Ordinal);
        Assert.Contains("PCI address or UUID", error.Result.AdditionalProperties["fix"].ToString(), StringComparison.Ordinal);
        Assert.False(byAddress.Changed);
        Assert.Equal(attached, factory.Host.Bytes("/etc/pve/lxc/130.conf"));
        Assert.Contains("dev", Encoding.UTF8.GetString(attached), StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryFixNamesTheGpuByPciAddressNeverByIndex()
    {
        using var factory = new GpuLxcApiFactory(Before());
        var client = factory.CreateGpuLxcClient();
        await client.AttachGpuAsync("130", new AttachRequest { Gpus = ["1"] });
        await RebootRenumberingAsync(factory, client);

        // Lines edited by hand: the fix is a PUT, and its body must keep the container on the 1650.
        var text = Encoding.UTF8.GetString(factory.Host.Bytes("/etc/pve/lxc/130.conf"));
        factory.Host.WithFile("/etc/pve/lxc/130.conf", string.Join('\n', text.Split('\n').Where(l => !l.EndsWith(": /dev/nvidia1", StringComparison.Ordinal))));
        var drift = (await client.GetAttachmentAsync("130")).Result.Drift;

        Assert.Equal(DriftStatus.EditedByHand, drift.Status);
        Assert.Contains("\"gpus\":[\"0000:02:00.0\"]", drift.Fix, StringComparison.Ordinal);
        Assert.DoesNotContain("\"1\"", drift.Fix, StringComparison.Ordinal);
    }
}
