using System.Text;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Cases;

/// <summary>
/// Issue 13, kind A (majors come from the kernel), case <c>hardcoded-uvm-major-node</c>. Source:
/// https://github.com/negativo17/nvidia-driver/issues/29 — a packaging script made the uvm nodes with a fixed major;
/// where the kernel gave nvidia-uvm another one, CUDA failed until the nodes were made again. Here: PVE 7.4, RTX 2070
/// SUPER on 535.183.01, /proc/devices gives nvidia-uvm 236, the uvm nodes are 239:0 and 239:1.
/// </summary>
public sealed class HardcodedUvmMajorNodeTests
{
    private const string Config140 = "/etc/pve/lxc/140.conf";

    private static HostTree Host(uint nodeMajor) => ReportHosts.Proxmox("7.4.19", "5.15.158-2-pve", "535.183.01")
        .WithNvidiaGpu("0000:03:00.0", "1e84", 0, "NVIDIA GeForce RTX 2070 SUPER")
        .WithDriverLoaded("535.183.01")
        .WithProcDevices(uvm: 236, caps: 237)
        .WithFile("/etc/udev/rules.d/70-nvidia.rules", "ACTION==\"add\", KERNEL==\"nvidia\", RUN+=\"/usr/bin/nvidia-smi -L\"\n")
        .WithNodes(nodeMajor, 0)
        .WithCharDevice("/dev/nvidia-modeset", 195, 254)
        .WithSmi("0, GPU-0000cafe-0000-4000-8000-000000000000, NVIDIA GeForce RTX 2070 SUPER, 00000000:03:00.0, 535.183.01, 90.04.7A.40.73, 0, 0, 0, 0")
        .WithContainer("140", ReportHosts.PlainContainer("140", "cuda-dev"));

    [Fact]
    public async Task AttachingFromANodeWhoseMajorTheKernelNeverGaveIsRefusedWithTheDiagnosticsFix()
    {
        using var factory = new GpuLxcApiFactory(Host(nodeMajor: 239));
        var client = factory.CreateGpuLxcClient();
        var original = factory.Host.Bytes(Config140);

        var error = await Assert.ThrowsAsync<GpuLxcApiException<ProblemDetails>>(() => client.AttachGpuAsync("140", new AttachRequest()));
        var majors = (await client.GetDiagnosticsAsync()).Checks.Single(c => c.Id == "device-node-majors");

        Assert.Equal(409, error.StatusCode);
        Assert.Contains("/dev/nvidia-uvm is 239:0, but /proc/devices gives nvidia-uvm major 236", error.Result.Detail, StringComparison.Ordinal);
        Assert.Contains("/dev/nvidia-uvm-tools is 239:1", error.Result.Detail, StringComparison.Ordinal);
        var fix = error.Result.AdditionalProperties["fix"].ToString();
        Assert.Contains("/dev/nvidia-uvm /dev/nvidia-uvm-tools", fix, StringComparison.Ordinal);
        Assert.Contains("nvidia-modprobe -c0 -u", fix, StringComparison.Ordinal);
        Assert.Equal(CheckStatus.Fail, majors.Status);
        Assert.Equal(majors.Fix, fix);
        Assert.Equal(original, factory.Host.Bytes(Config140));
        Assert.DoesNotContain("239", Encoding.UTF8.GetString(factory.Host.Bytes(Config140)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnAttachmentIsNotInSyncWhileANodeDisagreesWithProcDevices()
    {
        using var factory = new GpuLxcApiFactory(Host(nodeMajor: 236));
        var client = factory.CreateGpuLxcClient();
        await client.AttachGpuAsync("140", new AttachRequest());

        // The packaging script runs again and makes the uvm nodes with its fixed major.
        factory.Host.Without("/dev/nvidia-uvm").Without("/dev/nvidia-uvm-tools")
            .WithCharDevice("/dev/nvidia-uvm", 239, 0).WithCharDevice("/dev/nvidia-uvm-tools", 239, 1);
        var attachment = Assert.Single(await client.ListAttachmentsAsync());

        Assert.Equal(DriftStatus.NodesBroken, attachment.Drift.Status);
        Assert.Contains("/dev/nvidia-uvm is 239:0, but /proc/devices gives nvidia-uvm major 236", attachment.Drift.Detail, StringComparison.Ordinal);
        Assert.Contains("nvidia-modprobe -c0 -u", attachment.Drift.Fix, StringComparison.Ordinal);
    }
}
