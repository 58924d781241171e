using GpuLxc.Api.Drivers;

namespace GpuLxc.Api.Tests.Drivers;

public sealed class ToolkitFilesFacts
{
    /// <summary>A config.toml laid out as the toolkit's packages install it: top-level keys, then one table per component.</summary>
    public const string PackagedConfig = """
        #accept-nvidia-visible-devices-as-volume-mounts = false
        #accept-nvidia-visible-devices-envvar-when-unprivileged = true
        disable-require = false
        supported-driver-capabilities = "compat32,compute,display,graphics,ngx,utility,video"
        #swarm-resource = "DOCKER_RESOURCE_GPU"

        [nvidia-container-cli]
        #debug = "/var/log/nvidia-container-toolkit.log"
        environment = []
        #ldcache = "/etc/ld.so.cache"
        ldconfig = "@/sbin/ldconfig.real"
        load-kmods = true
        no-cgroups = true
        #path = "/usr/bin/nvidia-container-cli"
        #root = "/run/nvidia/driver"
        #user = "root:video"

        [nvidia-container-runtime]
        #debug = "/var/log/nvidia-container-runtime.log"
        log-level = "info"
        mode = "legacy"
        runtimes = ["runc", "crun"]

        [nvidia-container-runtime.modes.cdi]
        annotation-prefixes = ["cdi.k8s.io/"]
        default-kind = "nvidia.com/gpu"
        spec-dirs = ["/etc/cdi", "/var/run/cdi"]

        [nvidia-container-runtime-hook]
        path = "nvidia-container-runtime-hook"
        skip-mode-detection = false

        [nvidia-ctk]
        path = "nvidia-ctk"
        """;

    /// <summary>A CDI spec as <c>nvidia-ctk cdi generate</c> lays one out for driver 550.127.05 (abridged).</summary>
    public const string SpecFor550 = """
        ---
        cdiVersion: 0.5.0
        containerEdits:
          deviceNodes:
          - path: /dev/nvidia-modeset
          - path: /dev/nvidia-uvm
          - path: /dev/nvidiactl
          hooks:
          - args:
            - nvidia-cdi-hook
            - create-symlinks
            - --link
            - libcuda.so.550.127.05::/usr/lib/x86_64-linux-gnu/libcuda.so.1
            hookName: createContainer
            path: /usr/bin/nvidia-cdi-hook
          mounts:
          - containerPath: /usr/lib/x86_64-linux-gnu/libcuda.so.550.127.05
            hostPath: /usr/lib/x86_64-linux-gnu/libcuda.so.550.127.05
            options:
            - ro
            - nosuid
            - nodev
            - bind
          - containerPath: /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.127.05
            hostPath: /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.127.05
            options:
            - ro
            - nosuid
            - nodev
            - bind
          - containerPath: /usr/bin/nvidia-smi
            hostPath: /usr/bin/nvidia-smi
            options:
            - ro
            - nosuid
            - nodev
            - bind
        devices:
        - containerEdits:
            deviceNodes:
            - path: /dev/nvidia0
          name: "0"
        - containerEdits:
            deviceNodes:
            - path: /dev/nvidia0
          name: all
        kind: nvidia.com/gpu
        """;

    [Fact]
    public void ParseRuntimeConfig_ReadsNoCgroupsAndMode_WhenTheTablesSetThem()
    {
        var config = ToolkitFiles.ParseRuntimeConfig(PackagedConfig);

        Assert.Equal(new ToolkitRuntimeConfig(true, "legacy"), config);
    }

    [Fact]
    public void ParseRuntimeConfig_IsTheToolkitsDefaults_WhenTheKeysAreCommentedOut()
    {
        var config = ToolkitFiles.ParseRuntimeConfig(PackagedConfig.Replace("no-cgroups = true", "#no-cgroups = false").Replace("mode = \"legacy\"", "#mode = \"auto\""));

        Assert.Equal(new ToolkitRuntimeConfig(false, "auto"), config);
    }

    [Fact]
    public void ParseRuntimeConfig_ReturnsTheParsersError_WhenTheFileIsNotToml()
    {
        var config = ToolkitFiles.ParseRuntimeConfig("[nvidia-container-cli]\nno-cgroups = yes please\n");

        Assert.NotNull(config.Error);
        Assert.Equal((false, "auto"), (config.NoCgroups, config.Mode));
    }

    [Fact]
    public void ParseDaemonJson_FindsTheNvidiaRuntimeTheDefaultAndCdi_WhenNvidiaCtkConfiguredDocker()
    {
        const string Json = """
            {
                "default-runtime": "nvidia",
                "features": { "cdi": true },
                "log-driver": "json-file",
                "runtimes": {
                    "nvidia": { "args": [], "path": "nvidia-container-runtime" }
                }
            }
            """;

        Assert.Equal(new DockerDaemonConfig(true, "nvidia", true), ToolkitFiles.ParseDaemonJson(Json));
    }

    [Fact]
    public void ParseDaemonJson_LeavesCdiUnset_WhenFeaturesDoNotNameIt()
    {
        Assert.Equal(new DockerDaemonConfig(false, null, null), ToolkitFiles.ParseDaemonJson("""{ "features": { "containerd-snapshotter": true } }"""));
    }

    [Fact]
    public void ParseDaemonJson_ReturnsAnError_WhenTheJsonIsBroken()
    {
        Assert.NotNull(ToolkitFiles.ParseDaemonJson("""{ "runtimes": { "nvidia": { "path": "nvidia-container-runtime" } }, }""").Error);
    }

    [Fact]
    public void ParseCdiSpec_FindsTheDriverVersion_FromTheVersionedLibrariesItMounts()
    {
        var spec = ToolkitFiles.ParseCdiSpec(SpecFor550);

        Assert.Null(spec.Error);
        Assert.Equal(["550.127.05"], spec.DriverVersions);
    }

    [Fact]
    public void ParseCdiSpec_ReadsAJsonSpec_WhenTheToolkitWroteJson()
    {
        const string Json = """
            {"cdiVersion":"0.5.0","kind":"nvidia.com/gpu","devices":[{"name":"all","containerEdits":{"deviceNodes":[{"path":"/dev/nvidia0"}]}}],
             "containerEdits":{"mounts":[{"hostPath":"/usr/lib/x86_64-linux-gnu/libcuda.so.535.183.01","containerPath":"/usr/lib/x86_64-linux-gnu/libcuda.so.535.183.01","options":["ro","nosuid","nodev","bind"]}]}}
            """;

        var spec = ToolkitFiles.ParseCdiSpec(Json);

        Assert.Null(spec.Error);
        Assert.Equal(["535.183.01"], spec.DriverVersions);
    }

    [Theory]
    [InlineData("cdiVersion: 0.5.0\ncontainerEdits: [unclosed\n")]
    [InlineData("just: a map\nof: things\n")]
    [InlineData("")]
    public void ParseCdiSpec_ReturnsAnError_WhenTheFileIsNoSpec(string text)
    {
        Assert.NotNull(ToolkitFiles.ParseCdiSpec(text).Error);
    }

    [Fact]
    public void ParseInstalledPackages_KeepsOnlyInstalledToolkitPackages()
    {
        const string Output = "ii |nvidia-container-toolkit|1.17.8-1\nrc |nvidia-container-toolkit-base|1.16.2-1\nii |libnvidia-container1|1.17.8-1\nii |bash|5.2.21-2\n";

        var packages = ToolkitFiles.ParseInstalledPackages(Output);

        Assert.Equal(new Dictionary<string, string> { ["nvidia-container-toolkit"] = "1.17.8-1", ["libnvidia-container1"] = "1.17.8-1" }, packages);
    }

    [Theory]
    [InlineData("NVIDIA Container Toolkit CLI version 1.17.8\ncommit: f202b80a9b9d0db00d9b1d73c0128c8962c55f4d\n", "1.17.8")]
    [InlineData("nvidia-ctk: command not found\n", null)]
    public void ParseCtkVersion_ReadsTheCliVersion(string output, string? expected) => Assert.Equal(expected, ToolkitFiles.ParseCtkVersion(output));

    [Theory]
    [InlineData("Docker version 28.2.2, build e6534b4\n", "28.2.2")]
    [InlineData("Docker version 26.1.5+dfsg1, build a72d7cd\n", "26.1.5+dfsg1")]
    [InlineData("", null)]
    public void ParseDockerVersion_ReadsDockerdsVersion(string output, string? expected) => Assert.Equal(expected, ToolkitFiles.ParseDockerVersion(output));

    [Theory]
    [InlineData("1.17.8-1", "1.17.8")]
    [InlineData("1.18.0~rc.1-1", "1.18.0")]
    [InlineData("26.1.5+dfsg1", "26.1.5")]
    [InlineData("28.2", "28.2.0")]
    public void Numeric_KeepsTheReleaseNumbers_WhenPackagingAddsSuffixes(string version, string expected) =>
        Assert.Equal(Version.Parse(expected), ToolkitFiles.Numeric(version));
}
