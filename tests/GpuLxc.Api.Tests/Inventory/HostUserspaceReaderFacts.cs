using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Inventory;
using GpuLxc.Api.Tests.Support;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Tests.Inventory;

public sealed class HostUserspaceReaderFacts
{
    private const string Version = "580.159.04";

    [Fact]
    public async Task ReadAsync_FindsTheLoadedVersionsFilesByCapability_OnTheH100Host()
    {
        using var tree = HostFixtures.H100WithDriverFiles();

        var userspace = await Reader(tree).ReadAsync(CancellationToken.None);

        Assert.NotNull(userspace);
        Assert.Equal((Version, "search"), (userspace.Version, userspace.Source));
        Assert.Equal(["libnvidia-ml.so.580.159.04", "nvidia-smi"], userspace.Of(DriverCapability.Utility).Select(f => f.Name));
        Assert.Equal(
            ["libcuda.so.580.159.04", "libcudadebugger.so.580.159.04", "libnvidia-gpucomp.so.580.159.04", "libnvidia-nvvm.so.580.159.04", "libnvidia-ptxjitcompiler.so.580.159.04"],
            userspace.Of(DriverCapability.Compute).Select(f => f.Name));
        Assert.Equal(["libnvcuvid.so.580.159.04", "libnvidia-encode.so.580.159.04"], userspace.Of(DriverCapability.Video).Select(f => f.Name));
        Assert.Empty(userspace.Of(DriverCapability.Graphics));
        Assert.All(userspace.Files.Where(f => !f.Executable), f => Assert.StartsWith("/usr/local/nvidia/lib64/", f.HostPath, StringComparison.Ordinal));
        Assert.Equal("/usr/local/nvidia/bin/nvidia-smi", userspace.Files.Single(f => f.Name == "nvidia-smi").HostPath);
        Assert.Equal(("libcuda.so.1", "libnvidia-nvvm.so.4"), (userspace.Files.Single(f => f.Name.StartsWith("libcuda.so", StringComparison.Ordinal)).Soname,
            userspace.Files.Single(f => f.Name.StartsWith("libnvidia-nvvm", StringComparison.Ordinal)).Soname));
        Assert.Null(userspace.Files.Single(f => f.Name.StartsWith("libnvidia-gpucomp", StringComparison.Ordinal)).Soname);
    }

    [Fact]
    public async Task ReadAsync_BindsTheRealProgram_WhenAWrapperScriptComesFirstOnPath()
    {
        // As on the GPU test host: /usr/bin/nvidia-smi is a script that execs the driver's own binary. Bound into a guest
        // the script would exec /usr/local/nvidia/bin/nvidia-smi, which the guest does not have.
        using var tree = HostFixtures.H100WithDriverFiles()
            .WithFile("/usr/bin/nvidia-smi", "#!/bin/sh\nexec /usr/local/nvidia/bin/nvidia-smi \"$@\"\n")
            .WithFile("/usr/local/nvidia/bin/nvidia-smi", "\u007fELF\u0002\u0001\u0001");

        var userspace = await Reader(tree).ReadAsync(CancellationToken.None);

        Assert.Equal("/usr/local/nvidia/bin/nvidia-smi", userspace!.Files.Single(f => f.Name == "nvidia-smi").HostPath);
    }

    [Fact]
    public async Task ReadAsync_LeavesOutAnotherVersionsFiles_WhenAnUpgradeLeftThemBehind()
    {
        using var tree = HostFixtures.H100WithDriverFiles().WithFile("/usr/lib/x86_64-linux-gnu/libcuda.so.550.127.05", "old");

        var userspace = await Reader(tree).ReadAsync(CancellationToken.None);

        Assert.Equal("/usr/local/nvidia/lib64/libcuda.so.580.159.04", userspace!.Files.Single(f => f.Name.StartsWith("libcuda.so", StringComparison.Ordinal)).HostPath);
    }

    [Fact]
    public async Task ReadAsync_SearchesTheDirectoriesLdSoConfDLists()
    {
        using var tree = new HostTree().WithFile(LoadedDriver.SysfsPath, $"{Version}\n")
            .WithFile("/etc/ld.so.conf.d/nvidia.conf", "# the driver\n/opt/nvidia/lib/\ninclude /etc/other.conf\n")
            .WithFile($"/opt/nvidia/lib/libnvidia-ml.so.{Version}", "ml");

        var userspace = await Reader(tree).ReadAsync(CancellationToken.None);

        Assert.Equal($"/opt/nvidia/lib/libnvidia-ml.so.{Version}", Assert.Single(userspace!.Files).HostPath);
    }

    [Theory]
    [InlineData("nvidia.yaml", """
        cdiVersion: 0.5.0
        kind: nvidia.com/gpu
        devices:
        - name: all
          containerEdits:
            deviceNodes:
            - path: /dev/nvidia0
        containerEdits:
          mounts:
          - hostPath: /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.580.159.04
            containerPath: /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.580.159.04
            options: [ro, nosuid, nodev, bind]
          - hostPath: /usr/lib/x86_64-linux-gnu/libcuda.so.580.159.04
            containerPath: /usr/lib/x86_64-linux-gnu/libcuda.so.580.159.04
            options: [ro, nosuid, nodev, bind]
          - hostPath: /usr/bin/nvidia-smi
            containerPath: /usr/bin/nvidia-smi
          - hostPath: /lib/firmware/nvidia/580.159.04/gsp_ga10x.bin
            containerPath: /lib/firmware/nvidia/580.159.04/gsp_ga10x.bin
        """)]
    [InlineData("nvidia.json", """
        {"cdiVersion":"0.5.0","kind":"nvidia.com/gpu","devices":[{"name":"all","containerEdits":{"deviceNodes":[{"path":"/dev/nvidia0"}]}}],
         "containerEdits":{"mounts":[
           {"hostPath":"/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.580.159.04","containerPath":"/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.580.159.04","options":["ro","bind"]},
           {"hostPath":"/usr/lib/x86_64-linux-gnu/libcuda.so.580.159.04","containerPath":"/usr/lib/x86_64-linux-gnu/libcuda.so.580.159.04","options":["ro","bind"]},
           {"hostPath":"/usr/bin/nvidia-smi","containerPath":"/usr/bin/nvidia-smi"}]}}
        """)]
    public async Task ReadAsync_TakesTheCdiSpecsFiles_WhenTheSpecIsForTheLoadedVersion(string name, string spec)
    {
        using var tree = HostFixtures.H100WithDriverFiles().WithFile($"/etc/cdi/{name}", spec);

        var userspace = await Reader(tree).ReadAsync(CancellationToken.None);

        Assert.Equal($"/etc/cdi/{name}", userspace!.Source);
        Assert.Equal(
            ["/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.580.159.04", "/usr/bin/nvidia-smi", "/usr/lib/x86_64-linux-gnu/libcuda.so.580.159.04"],
            userspace.Files.Select(f => f.HostPath));
    }

    [Fact]
    public async Task ReadAsync_SkipsTheCdiSpecWithANote_WhenItIsForAnotherVersion()
    {
        using var tree = HostFixtures.H100WithDriverFiles().WithFile("/var/run/cdi/nvidia.yaml", """
            cdiVersion: 0.5.0
            kind: nvidia.com/gpu
            containerEdits:
              mounts:
              - hostPath: /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.127.05
                containerPath: /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.127.05
            """);

        var userspace = await Reader(tree).ReadAsync(CancellationToken.None);

        Assert.Equal("search", userspace!.Source);
        Assert.Contains("libnvidia-ml.so.550.127.05", Assert.Single(userspace.Notes), StringComparison.Ordinal);
        Assert.Contains(userspace.Files, f => f.HostPath == "/usr/local/nvidia/lib64/libnvidia-ml.so.580.159.04");
    }

    [Fact]
    public async Task ReadAsync_SkipsAnUnparsableCdiSpecWithANote()
    {
        using var tree = HostFixtures.H100WithDriverFiles().WithFile("/etc/cdi/broken.yaml", "kind: [nvidia.com/gpu\n  mounts: {");

        var userspace = await Reader(tree).ReadAsync(CancellationToken.None);

        Assert.Equal("search", userspace!.Source);
        Assert.Contains("/etc/cdi/broken.yaml", Assert.Single(userspace.Notes), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadAsync_IsNull_WhenNoModuleIsLoaded()
    {
        using var tree = new HostTree().WithFile($"/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.{Version}", "ml");

        Assert.Null(await Reader(tree).ReadAsync(CancellationToken.None));
    }

    private static HostUserspaceReader Reader(HostTree tree)
    {
        var files = new HostFileSystem(Options.Create(new HostAccessOptions { Root = tree.Root }));
        return new HostUserspaceReader(files, new LoadedDriver(files));
    }
}
