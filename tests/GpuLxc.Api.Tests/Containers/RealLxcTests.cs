using System.Diagnostics;
using System.Globalization;
using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Containers;

/// <summary>
/// Attachments proven inside a real LXC container (CI runs as root with lxc and busybox-static installed). With no
/// NVIDIA driver on the machine, stand-in nodes are made at /dev/nvidia0 (195:0), /dev/nvidiactl (195:255) and
/// /dev/nvidia-uvm (a free major that is not 243). Opening a node the device cgroup lets through fails with ENXIO
/// (there is no driver behind it); a denied one fails with EPERM.
/// </summary>
[Collection(nameof(RealLxcTests))]
public sealed class RealLxcTests : IDisposable
{
    private const string NoDevice = "No such device or address";
    private const string Denied = "Operation not permitted";

    // GPULXC_REAL_LXC_PREFIX lets a developer's run keep its containers apart from CI's and other worktrees'.
    private readonly string _name = $"{Environment.GetEnvironmentVariable("GPULXC_REAL_LXC_PREFIX") ?? "gpulxc-ci-"}{Guid.NewGuid().ToString("N")[..8]}";
    private readonly List<string> _standIns = [];
    private readonly HostTree _tree = new();
    private readonly uint _uvmMajor;
    private readonly bool _cgroup2;

    public RealLxcTests()
    {
        Require(Environment.UserName == "root", "these tests need root (CI runs as root)");
        Require(File.Exists("/usr/bin/lxc-create") && File.Exists("/usr/share/lxc/templates/lxc-busybox"),
            "lxc is not installed: `apt-get install lxc busybox-static` (.ci/run does)");
        Require(!File.Exists("/proc/driver/nvidia/version") && !Directory.EnumerateFileSystemEntries("/dev", "nvidia*").Any(),
            "this machine has NVIDIA device nodes already; the stand-in nodes need a host without the driver");

        _cgroup2 = File.Exists("/sys/fs/cgroup/cgroup.controllers");
        var used = File.ReadAllLines("/proc/devices").Select(l => l.Trim().Split(' ')[0]).ToHashSet();
        _uvmMajor = Enumerable.Range(500, 12).Select(m => (uint)m).First(m => !used.Contains(m.ToString(CultureInfo.InvariantCulture)));

        MakeStandIn("/dev/nvidia0", 195, 0);
        MakeStandIn("/dev/nvidiactl", 195, 255);
        MakeStandIn("/dev/nvidia-uvm", _uvmMajor, 0);

        // The host as GpuLxc sees it: the real /dev, /run and /var/lib/lxc and cgroup tree, and a GPU in sysfs and
        // procfs that the stand-in nodes belong to.
        _tree.WithSymlink("/dev", "/dev").WithSymlink("/run", "/run").WithSymlink("/var", "/var").WithSymlink("/sys/fs/cgroup", "/sys/fs/cgroup")
            .WithPciGpu("0000:01:00.0", "2504", "nvidia")
            .WithFile("/proc/driver/nvidia/version", "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.127.05  Tue Oct  8 03:22:07 UTC 2024\n")
            .WithFile("/proc/driver/nvidia/gpus/0000:01:00.0/information", "Model: \t\t NVIDIA GeForce RTX 3060\nDevice Minor: \t 0\n")
            .WithFile("/proc/devices", $"Character devices:\n  1 mem\n195 nvidia-frontend\n{_uvmMajor} nvidia-uvm\n\nBlock devices:\n  7 loop\n");

        HostTree.Run("lxc-create", "-n", _name, "-t", "busybox");
        File.WriteAllText($"/var/lib/lxc/{_name}/config", BaseConfig());
    }

    public void Dispose()
    {
        RunQuietly("lxc-stop", "-n", _name, "-k");
        RunQuietly("lxc-destroy", "-n", _name, "-f");
        foreach (var node in _standIns)
        {
            File.Delete(node);
        }

        _tree.Dispose();
    }

    [RequiresFact(Prerequisite.RealLxc)]
    public async Task AnAttachedGpuIsReachableInsideAndADetachedOneIsDenied()
    {
        using var factory = new GpuLxcApiFactory(_tree);
        factory.Settings["GpuLxc:Host:Backend"] = "lxc";
        factory.Settings["GpuLxc:Host:BinPath"] = "";
        var client = factory.CreateGpuLxcClient();

        var attached = (await client.AttachGpuAsync(_name, new AttachRequest())).Result;
        HostTree.Run("lxc-start", "-n", _name);
        WaitRunning();

        var listed = (await client.ListContainersAsync()).Single(c => c.Id == _name);
        Assert.Equal((ContainerStatus.Running, AttachmentMode.Raw), (listed.Status, listed.Attachment!.Mode));
        Assert.Equal(AttachmentMode.Raw, attached.Attachment!.Mode);
        Assert.Contains(_cgroup2 ? $"lxc.cgroup2.devices.allow = c {_uvmMajor}:* rwm" : $"lxc.cgroup.devices.allow = c {_uvmMajor}:* rwm", attached.Added);
        foreach (var node in (string[])["/dev/nvidia0", "/dev/nvidiactl", "/dev/nvidia-uvm"])
        {
            Assert.Contains(NoDevice, Inside($"cat {node}"), StringComparison.Ordinal);
        }

        var detached = (await client.DetachGpuAsync(_name, restart: true)).Result;
        WaitRunning();

        Assert.True(detached.Restarted);
        Assert.Contains("No such file or directory", Inside("cat /dev/nvidia0"), StringComparison.Ordinal);
        Assert.Contains(Denied, Inside("mknod /tmp/gpu c 195 0; cat /tmp/gpu"), StringComparison.Ordinal);
        Assert.Contains(Denied, Inside($"mknod /tmp/uvm c {_uvmMajor} 0; cat /tmp/uvm"), StringComparison.Ordinal);
    }

    /// <summary>
    /// Issue 13, kind H, both sides: with LXC's deny-all a detached GPU's node is EPERM even when root inside makes it
    /// itself; without it root inside can mknod and open it (ENXIO: the device cgroup let it through to a driver that
    /// is not there), so the attachment says that detaching does not revoke the GPU.
    /// </summary>
    [RequiresTheory(Prerequisite.RealLxc)]
    [InlineData(true)]
    [InlineData(false)]
    public async Task OnlyAContainerThatDeniesByDefaultLosesItsGpuOnDetachAndTheAttachmentSaysWhich(bool denyAll)
    {
        var allow = _cgroup2 ? "lxc.cgroup2.devices" : "lxc.cgroup.devices";
        if (!denyAll)
        {
            File.WriteAllText($"/var/lib/lxc/{_name}/config", BaseConfig().Replace($"{allow}.deny = a\n", "", StringComparison.Ordinal));
        }

        using var factory = new GpuLxcApiFactory(_tree);
        factory.Settings["GpuLxc:Host:Backend"] = "lxc";
        factory.Settings["GpuLxc:Host:BinPath"] = "";
        var client = factory.CreateGpuLxcClient();

        var attached = (await client.AttachGpuAsync(_name, new AttachRequest())).Result;
        HostTree.Run("lxc-start", "-n", _name);
        WaitRunning();
        Assert.Contains(NoDevice, Inside("cat /dev/nvidia0"), StringComparison.Ordinal);
        await client.DetachGpuAsync(_name, restart: true);
        WaitRunning();

        Assert.Equal(denyAll, attached.Attachment!.Confinement!.DenyByDefault);
        Assert.Contains(denyAll ? Denied : NoDevice, Inside("mknod /tmp/gpu c 195 0; cat /tmp/gpu"), StringComparison.Ordinal);
        Assert.Contains(denyAll ? Denied : NoDevice, Inside($"mknod /tmp/uvm c {_uvmMajor} 0; cat /tmp/uvm"), StringComparison.Ordinal);
        var confinement = (await client.GetDiagnosticsAsync()).Checks.Single(c => c.Id == "container-confinement");
        Assert.Equal(!denyAll, confinement.Detail.Contains($"/var/lib/lxc/{_name}/config", StringComparison.Ordinal));
    }

    [RequiresFact(Prerequisite.RealLxc)]
    public async Task TheLinesWrittenIntoAProxmoxConfigWorkInARealContainer()
    {
        // A stand-in Proxmox: the container's PVE config lives in the prepared /etc/pve/lxc, and a stub pct starts
        // a real LXC container from it as pve-container does — the base config plus the PVE config's raw lxc.* lines.
        const string Vmid = "4242";
        _tree.WithContainer(Vmid, $"arch: amd64\nhostname: {_name}\nmemory: 512\nostype: unmanaged\n")
            .WithFile("/etc/pve/.base-config", BaseConfig())
            .WithCommand("pct", $$"""
                pve="{{_tree.PathOf($"/etc/pve/lxc/{Vmid}.conf")}}"
                generate() {
                  cat "{{_tree.PathOf("/etc/pve/.base-config")}}" > "/var/lib/lxc/{{_name}}/config"
                  sed -n '/^\[/q; s/^\(lxc\.[a-z0-9_.-]*\): \(.*\)$/\1 = \2/p' "$pve" >> "/var/lib/lxc/{{_name}}/config"
                }
                case "$1" in
                  list) echo "VMID       Status     Lock         Name"
                        echo "{{Vmid}}       $(lxc-info -n {{_name}} -s -H | tr 'A-Z' 'a-z')                 {{_name}}" ;;
                  status) echo "status: $(lxc-info -n {{_name}} -s -H | tr 'A-Z' 'a-z')" ;;
                  start) generate && lxc-start -n {{_name}} ;;
                  reboot) flock -n "{{_tree.PathOf($"/run/lock/lxc/pve-config-{Vmid}.lock")}}" true || exit 255
                          lxc-stop -n {{_name}} && generate && lxc-start -n {{_name}} ;;
                  *) exit 2 ;;
                esac
                """);
        using var factory = new GpuLxcApiFactory(_tree);
        factory.Settings["GpuLxc:Host:Backend"] = "proxmox";
        var client = factory.CreateGpuLxcClient();

        var attached = (await client.AttachGpuAsync(Vmid, new AttachRequest())).Result;
        HostTree.Run(Path.Join(_tree.BinDir, "pct"), "start", Vmid);
        WaitRunning();

        Assert.Equal(AttachmentMode.Raw, attached.Attachment!.Mode);
        Assert.Contains(_cgroup2 ? $"lxc.cgroup2.devices.allow: c {_uvmMajor}:* rwm" : $"lxc.cgroup.devices.allow: c {_uvmMajor}:* rwm", attached.Added);
        Assert.Contains(NoDevice, Inside("cat /dev/nvidia-uvm"), StringComparison.Ordinal);
        Assert.Contains(NoDevice, Inside("cat /dev/nvidia0"), StringComparison.Ordinal);

        var detached = (await client.DetachGpuAsync(Vmid, restart: true)).Result;
        WaitRunning();

        Assert.True(detached.Restarted);
        Assert.Contains(Denied, Inside($"mknod /tmp/uvm c {_uvmMajor} 0; cat /tmp/uvm"), StringComparison.Ordinal);
    }

    [RequiresFact(Prerequisite.RealLxc)]
    public void TheManualProceduresHardCodedMajorLeavesNvidiaUvmDenied()
    {
        // The seed procedure's lines, as its readers paste them (its cgroup-v1 key and uvm major 243).
        File.AppendAllText($"/var/lib/lxc/{_name}/config", """
            lxc.cgroup.devices.allow = c 195:* rwm
            lxc.cgroup.devices.allow = c 243:* rwm
            lxc.mount.entry = /dev/nvidia0 dev/nvidia0 none bind,optional,create=file
            lxc.mount.entry = /dev/nvidiactl dev/nvidiactl none bind,optional,create=file
            lxc.mount.entry = /dev/nvidia-uvm dev/nvidia-uvm none bind,optional,create=file

            """);
        HostTree.Run("lxc-start", "-n", _name);
        WaitRunning();

        Assert.Contains(Denied, Inside("cat /dev/nvidia-uvm"), StringComparison.Ordinal);
    }

    [RequiresFact(Prerequisite.RealLxc)]
    public async Task GuestDriverJobsDetectTheOsCopyTheInstallerInAndRunInsideARealContainer()
    {
        // The busybox container says it is Debian; the .run stand-in, copied in through lxc-attach, installs an
        // nvidia-smi that reports the host module's version and leaves the arguments it was run with.
        File.WriteAllText($"/var/lib/lxc/{_name}/rootfs/etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n");
        _tree.WithFile("/root/NVIDIA-Linux-x86_64-550.127.05.run", """
            #!/bin/sh
            printf '#!/bin/sh\necho 550.127.05\n' > /bin/nvidia-smi
            chmod +x /bin/nvidia-smi
            mkdir -p /usr/lib64 && touch /usr/lib64/libnvidia-ml.so.550.127.05
            echo "$0 $*" > /installer-ran
            """);
        using var factory = new GpuLxcApiFactory(_tree);
        factory.Settings["GpuLxc:Host:Backend"] = "lxc";
        factory.Settings["GpuLxc:Host:BinPath"] = "";
        var client = factory.CreateGpuLxcClient();
        await client.AttachGpuAsync(_name, new AttachRequest());
        HostTree.Run("lxc-start", "-n", _name);
        WaitRunning();

        var install = await WaitForJob(client, (await client.InstallContainerDriverAsync(_name,
            new GuestDriverInstallRequest { Method = GuestInstallMethod.RunInstaller, RunInstaller = "/root/NVIDIA-Linux-x86_64-550.127.05.run" })).Result.Id);

        Assert.True(install.State == JobState.Succeeded, $"{install.Error?.Step}: {install.Error?.Message}");
        Assert.Equal("/tmp/gpulxc-NVIDIA-Linux-x86_64-550.127.05.run --no-kernel-modules --silent", Inside("cat /installer-ran").Trim());
        Assert.DoesNotContain("gpulxc-", Inside("ls /tmp"), StringComparison.Ordinal);
        Assert.Equal("550.127.05", install.Result!.InstalledVersion);
        var driver = await client.GetContainerDriverAsync(_name);
        Assert.Equal(("550.127.05", true), (driver.HostVersion, driver.Match));

        var verify = await WaitForJob(client, (await client.VerifyContainerGpuAsync(_name)).Result.Id);
        Assert.True(verify.State == JobState.Succeeded, $"{verify.Error?.Step}: {verify.Error?.Message}");
    }

    [RequiresFact(Prerequisite.RealLxc)]
    public async Task TheHostsUserspaceIsBoundIntoAGuestWithoutNvidiaFilesAndGoneAfterDetach()
    {
        // The host's driver files: stand-ins in a real directory, listed by a CDI spec in the prepared /etc/cdi as
        // the NVIDIA container toolkit writes it. The stand-in nvidia-smi prints what the library at its SONAME path
        // holds, so that its output proves the loader's path works without anything installed in the guest.
        var driver = Directory.CreateTempSubdirectory($"{_name}-driver-").FullName;
        try
        {
            Directory.CreateDirectory($"{driver}/lib");
            Directory.CreateDirectory($"{driver}/bin");
            File.WriteAllText($"{driver}/lib/libnvidia-ml.so.550.127.05", "stand-in libnvidia-ml 550.127.05\n");
            File.WriteAllText($"{driver}/bin/nvidia-smi", "#!/bin/sh\necho \"NVIDIA stand-in, driver $(cat /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1)\"\n");
            File.SetUnixFileMode($"{driver}/bin/nvidia-smi", (UnixFileMode)0b111_101_101);
            _tree.WithSymlink(driver, driver).WithFile("/etc/cdi/nvidia.yaml", $"""
                cdiVersion: 0.5.0
                kind: nvidia.com/gpu
                containerEdits:
                  mounts:
                  - hostPath: {driver}/lib/libnvidia-ml.so.550.127.05
                    containerPath: /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.127.05
                  - hostPath: {driver}/bin/nvidia-smi
                    containerPath: /usr/bin/nvidia-smi
                """);
            // A guest with its own (static) busybox and nothing of the host's /lib and /usr/lib.
            File.WriteAllText($"/var/lib/lxc/{_name}/config",
                string.Join('\n', BaseConfig().Split('\n').Where(l => !(l.StartsWith("lxc.mount.entry", StringComparison.Ordinal) && l.Contains("lib", StringComparison.Ordinal)))));
            string[] guestFiles = ["usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1", "usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.127.05", "usr/bin/nvidia-smi"];
            Assert.DoesNotContain(guestFiles, f => File.Exists($"/var/lib/lxc/{_name}/rootfs/{f}"));
            using var factory = new GpuLxcApiFactory(_tree);
            factory.Settings["GpuLxc:Host:Backend"] = "lxc";
            factory.Settings["GpuLxc:Host:BinPath"] = "";
            var client = factory.CreateGpuLxcClient();

            var attached = (await client.AttachGpuAsync(_name, new AttachRequest { Userspace = UserspaceSource.Host, Capabilities = [DriverCapability.Utility] })).Result;
            HostTree.Run("lxc-start", "-n", _name);
            WaitRunning();

            Assert.Contains($"lxc.mount.entry = {driver}/lib/libnvidia-ml.so.550.127.05 usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1 none bind,ro,optional,create=file", attached.Added);
            Assert.Equal("NVIDIA stand-in, driver stand-in libnvidia-ml 550.127.05", Inside("nvidia-smi").Trim());
            Assert.Contains("Read-only file system", Inside("echo x > /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.127.05"), StringComparison.Ordinal);
            var status = await client.GetContainerDriverAsync(_name);
            Assert.Equal(("host", "550.127.05", true), (status.Method, status.InstalledVersion, status.Match));

            var detached = (await client.DetachGpuAsync(_name, restart: true)).Result;
            WaitRunning();

            // LXC leaves its mount points behind: empty files with no permissions, which nothing can run or load.
            Assert.True(detached.Restarted);
            Assert.DoesNotContain("stand-in", Inside("nvidia-smi"), StringComparison.Ordinal);
            Assert.All(guestFiles, f => Assert.True(!File.Exists($"/var/lib/lxc/{_name}/rootfs/{f}") || new FileInfo($"/var/lib/lxc/{_name}/rootfs/{f}").Length == 0, f));
        }
        finally
        {
            Directory.Delete(driver, recursive: true);
        }
    }

    private static async Task<Job> WaitForJob(IGpuLxcClient client, string jobId)
    {
        for (var attempt = 0; attempt < 12; attempt++)
        {
            var job = await client.GetJobAsync(jobId, waitSeconds: 10);
            if (job.State is JobState.Succeeded or JobState.Failed or JobState.Cancelled)
            {
                return job;
            }
        }

        throw new TimeoutException($"job {jobId} did not finish in 2 minutes");
    }

    private string BaseConfig()
    {
        var allow = _cgroup2 ? "lxc.cgroup2.devices" : "lxc.cgroup.devices";
        return $"""
            lxc.rootfs.path = dir:/var/lib/lxc/{_name}/rootfs
            lxc.uts.name = {_name}
            lxc.net.0.type = empty
            lxc.apparmor.profile = unconfined
            lxc.signal.halt = SIGUSR1
            lxc.autodev = 1
            lxc.tty.max = 1
            lxc.pty.max = 1
            lxc.cap.drop = sys_module mac_admin mac_override sys_time
            lxc.mount.auto = cgroup:mixed proc:mixed sys:ro
            lxc.mount.entry = /lib lib none ro,bind 0 0
            lxc.mount.entry = /usr/lib usr/lib none ro,bind 0 0
            lxc.mount.entry = /lib64 lib64 none ro,bind,optional 0 0
            {allow}.deny = a
            {allow}.allow = c *:* m
            {allow}.allow = c 1:3 rwm
            {allow}.allow = c 1:5 rwm
            {allow}.allow = c 1:8 rwm
            {allow}.allow = c 1:9 rwm
            {allow}.allow = c 5:0 rwm
            {allow}.allow = c 5:2 rwm
            {allow}.allow = c 136:* rwm

            """;
    }

    private string Inside(string script) => RealLxc.Inside(_name, script);

    private void WaitRunning() => RealLxc.WaitRunning(_name);

    private void MakeStandIn(string path, uint major, uint minor)
    {
        HostTree.Run("mknod", "-m", "666", path, "c", major.ToString(CultureInfo.InvariantCulture), minor.ToString(CultureInfo.InvariantCulture));
        _standIns.Add(path);
    }

    private static void RunQuietly(string program, params string[] arguments) => RealLxc.RunQuietly(program, arguments);

    private static void Require(bool condition, string what) => RealLxc.Require(condition, what);
}
