using GpuLxc.Api.Tests.Support;

namespace GpuLxc.Api.Tests.Dri;

/// <summary>
/// The demo Proxmox host (RTX 3060 at 0000:01:00.0, nvidia-drm loaded) with an Intel iGPU at 0000:00:02.0 (i915), and
/// DRM nodes laid out as udev makes them: <c>/dev/dri/cardN</c> root:video 0660, <c>renderD(128+N)</c> root:render
/// 0660, and relative <c>/dev/dri/by-path</c> links (<c>../card1</c>).
/// </summary>
public static class IgpuHosts
{
    public const string Igpu = "0000:00:02.0";
    public const string Nvidia = "0000:01:00.0";
    public const uint VideoGid = 44;
    public const uint RenderGid = 993;

    /// <summary>
    /// The host whose card order differs from its PCI order: nvidia-drm probed first, so card0/renderD128 are the
    /// NVIDIA GPU's and card1/renderD129 the iGPU's (at 00:02.0, first in PCI order).
    /// </summary>
    public static HostTree NvidiaProbedFirst() => WithCardOrder(ContainerHosts.Pve8()
        .WithFile($"/sys/bus/pci/devices/{Igpu}/vendor", "0x8086\n")
        .WithFile($"/sys/bus/pci/devices/{Igpu}/device", "0xa780\n")
        .WithFile($"/sys/bus/pci/devices/{Igpu}/class", "0x030000\n")
        .WithFile($"/sys/bus/pci/devices/{Igpu}/subsystem_vendor", "0x1043\n")
        .WithFile($"/sys/bus/pci/devices/{Igpu}/subsystem_device", "0x8882\n")
        .WithFile($"/sys/bus/pci/devices/{Igpu}/numa_node", "-1\n")
        .WithSymlink($"/sys/bus/pci/devices/{Igpu}/driver", "../../../bus/pci/drivers/i915"), nvidiaFirst: true);

    /// <summary>
    /// Lays out the DRM nodes in one card order or the other, as a reboot that probes the drivers in another order
    /// does: the sysfs names, the nodes and the by-path links all move together.
    /// </summary>
    public static HostTree WithCardOrder(HostTree tree, bool nvidiaFirst)
    {
        tree.Without("/dev/dri");
        foreach (var address in new[] { Igpu, Nvidia })
        {
            if (Directory.Exists(tree.PathOf($"/sys/bus/pci/devices/{address}/drm")))
            {
                tree.Without($"/sys/bus/pci/devices/{address}/drm");
            }
        }

        var (nvidia, igpu) = nvidiaFirst ? (0u, 1u) : (1u, 0u);
        Lay(tree, Nvidia, nvidia);
        Lay(tree, Igpu, igpu);
        return tree;
    }

    private static void Lay(HostTree tree, string address, uint card)
    {
        var render = 128 + card;
        tree.WithDirectory($"/sys/bus/pci/devices/{address}/drm/card{card}")
            .WithDirectory($"/sys/bus/pci/devices/{address}/drm/renderD{render}")
            // A connector entry beside the card: not a node.
            .WithDirectory($"/sys/bus/pci/devices/{address}/drm/card{card}-HDMI-A-1")
            .WithCharDevice($"/dev/dri/card{card}", 226, card, "660")
            .WithCharDevice($"/dev/dri/renderD{render}", 226, render, "660")
            .WithSymlink($"/dev/dri/by-path/pci-{address}-card", $"../card{card}")
            .WithSymlink($"/dev/dri/by-path/pci-{address}-render", $"../renderD{render}");
        HostTree.Run("chown", $"0:{VideoGid}", tree.PathOf($"/dev/dri/card{card}"));
        HostTree.Run("chown", $"0:{RenderGid}", tree.PathOf($"/dev/dri/renderD{render}"));
    }
}
