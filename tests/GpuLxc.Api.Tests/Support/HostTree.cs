using System.Diagnostics;
using System.Globalization;

namespace GpuLxc.Api.Tests.Support;

/// <summary>A prepared host: a temporary directory used as <c>GpuLxc:Host:Root</c>, plus a bin directory of stub commands.</summary>
public sealed class HostTree : IDisposable
{
    public HostTree()
    {
        Root = Directory.CreateTempSubdirectory("gpulxc-host-").FullName;
        BinDir = Directory.CreateTempSubdirectory("gpulxc-bin-").FullName;
    }

    /// <summary>A copy of a sample laid out as in the checkout: <c>root/</c> and <c>bin/</c> side by side in <paramref name="owner"/>.</summary>
    private HostTree(string owner)
    {
        _owner = owner;
        Root = Directory.CreateDirectory(Path.Join(owner, "root")).FullName;
        BinDir = Directory.CreateDirectory(Path.Join(owner, "bin")).FullName;
    }

    public string Root { get; }

    public string BinDir { get; }

    private readonly string? _owner;

    /// <summary>A Proxmox VE 8 node on cgroup2.</summary>
    public static HostTree Proxmox() => new HostTree()
        .WithFile("/proc/sys/kernel/hostname", "pve1\n")
        .WithFile("/proc/sys/kernel/osrelease", "6.8.12-4-pve\n")
        .WithFile("/etc/os-release", """
            PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
            NAME="Debian GNU/Linux"
            VERSION_ID="12"
            VERSION_CODENAME=bookworm
            ID=debian
            """)
        .WithFile("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n")
        .WithDirectory("/etc/pve/lxc")
        .WithCommand("pveversion", "echo 'pve-manager/8.2.4/faa83925c9641325 (running kernel: 6.8.12-4-pve)'");

    /// <summary>
    /// A copy of a sample host (<c>root/</c> and <c>bin/</c> of a folder under <c>samples/hosts</c>) as checked in:
    /// side by side as there (a stand-in command may find the host's files from where it is), symlinks kept, and
    /// without device nodes a local run of its materialize.sh may have left in the checkout.
    /// </summary>
    public static HostTree CopyOf(string sampleDirectory)
    {
        var tree = new HostTree(Directory.CreateTempSubdirectory("gpulxc-sample-").FullName);
        Run("cp", "-a", Path.Join(sampleDirectory, "root") + "/.", tree.Root);
        Run("cp", "-a", Path.Join(sampleDirectory, "bin") + "/.", tree.BinDir);
        return tree.WithoutNvidiaNodes();
    }

    public HostTree WithFile(string hostPath, string content)
    {
        var path = PathOf(hostPath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        return this;
    }

    /// <summary>A real character device made with mknod(1): tests that build device nodes need root, as CI has.</summary>
    public HostTree WithCharDevice(string hostPath, uint major, uint minor, string mode = "666")
    {
        var path = PathOf(hostPath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        Run("mknod", "-m", mode, path, "c", major.ToString(CultureInfo.InvariantCulture), minor.ToString(CultureInfo.InvariantCulture));
        return this;
    }

    public HostTree WithSymlink(string hostPath, string target)
    {
        var path = PathOf(hostPath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.CreateSymbolicLink(path, target);
        return this;
    }

    /// <summary>An NVIDIA GPU in sysfs; <paramref name="driver"/> null leaves it unbound.</summary>
    public HostTree WithPciGpu(string address, string deviceId, string? driver, string pciClass = "0x030000", string subsystem = "0x10de:0x0000", int numaNode = -1)
    {
        var device = $"/sys/bus/pci/devices/{address}";
        var (subsystemVendor, subsystemDevice) = (subsystem.Split(':')[0], subsystem.Split(':')[1]);
        WithFile($"{device}/vendor", "0x10de\n")
            .WithFile($"{device}/device", $"0x{deviceId}\n")
            .WithFile($"{device}/class", $"{pciClass}\n")
            .WithFile($"{device}/subsystem_vendor", $"{subsystemVendor}\n")
            .WithFile($"{device}/subsystem_device", $"{subsystemDevice}\n")
            .WithFile($"{device}/numa_node", $"{numaNode}\n");
        return driver is null ? this : WithSymlink($"{device}/driver", $"../../../bus/pci/drivers/{driver}");
    }

    public HostTree WithDirectory(string hostPath)
    {
        Directory.CreateDirectory(PathOf(hostPath));
        return this;
    }

    public HostTree Without(string hostPath)
    {
        var path = PathOf(hostPath);
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
        else
        {
            File.Delete(path);
        }

        return this;
    }

    /// <summary>A stub executable: <paramref name="script"/> runs under /bin/sh with the command's arguments.</summary>
    public HostTree WithCommand(string name, string script)
    {
        var path = Path.Join(BinDir, name);
        File.WriteAllText(path, $"#!/bin/sh\n{script}\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                                   UnixFileMode.GroupRead | UnixFileMode.GroupExecute |
                                   UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        return this;
    }

    /// <summary>Removes every NVIDIA device node.</summary>
    public HostTree WithoutNvidiaNodes()
    {
        foreach (var entry in Directory.EnumerateFileSystemEntries(PathOf("/dev"), "nvidia*"))
        {
            if (Directory.Exists(entry))
            {
                Directory.Delete(entry, recursive: true);
            }
            else
            {
                File.Delete(entry);
            }
        }

        return this;
    }

    /// <summary>
    /// A stub <c>pct</c>: <c>list</c> and <c>status</c> answer from <see cref="SetStatus"/>; <c>reboot</c>, like the
    /// real one, needs the container's config lock (it fails while someone holds it) and is logged to <see cref="PctLog"/>.
    /// </summary>
    public HostTree WithPct() => WithCommand("pct", $$"""
        dir=$(dirname "$0")
        case "$1" in
          list) echo "VMID       Status     Lock         Name"
                for f in "$dir"/pct-state/*; do [ -e "$f" ] && echo "$(basename "$f")        $(cat "$f")                 ct"; done; exit 0 ;;
          status) echo "status: $(cat "$dir/pct-state/$2" 2>/dev/null || echo stopped)" ;;
          reboot) mkdir -p "{{Root}}/run/lock/lxc"
                  flock -n "{{Root}}/run/lock/lxc/pve-config-$2.lock" true || { echo "can't lock file 'pve-config-$2.lock' - got timeout" >&2; exit 255; }
                  echo "reboot $2" >> "$dir/pct.log" ;;
          *) echo "stub pct: $*" >&2; exit 2 ;;
        esac
        """);

    public string PctLog => Path.Join(BinDir, "pct.log");

    /// <summary>A Proxmox container config and its status for the stub <c>pct</c>.</summary>
    public HostTree WithContainer(string vmid, string config, string status = "stopped") =>
        WithContainer(vmid, System.Text.Encoding.UTF8.GetBytes(config), status);

    public HostTree WithContainer(string vmid, byte[] config, string status = "stopped")
    {
        var path = PathOf($"/etc/pve/lxc/{vmid}.conf");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, config);
        return SetStatus(vmid, status);
    }

    /// <summary>A plain Proxmox config for each of <paramref name="vmids"/> that has none yet (the containers leases and encodes name).</summary>
    public HostTree WithContainers(params string[] vmids)
    {
        foreach (var vmid in vmids.Where(id => !File.Exists(PathOf($"/etc/pve/lxc/{id}.conf"))))
        {
            WithContainer(vmid, $"arch: amd64\nhostname: ct{vmid}\nostype: debian\nunprivileged: 1\n", "running");
        }

        return this;
    }

    public HostTree SetStatus(string vmid, string status)
    {
        Directory.CreateDirectory(Path.Join(BinDir, "pct-state"));
        File.WriteAllText(Path.Join(BinDir, "pct-state", vmid), status);
        return this;
    }

    public byte[] Bytes(string hostPath) => File.ReadAllBytes(PathOf(hostPath));

    public HostTree WithoutCommand(string name)
    {
        File.Delete(Path.Join(BinDir, name));
        return this;
    }

    public string PathOf(string hostPath) => Path.Join(Root, hostPath);

    /// <summary>Runs a command the test needs (mknod, cp, lxc-*) and returns its output; a failure fails the test, saying why.</summary>
    internal static string Run(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{program} {string.Join(' ', arguments)} exited with {process.ExitCode} ({error.Trim()}). These tests run as root, as CI does.");
        }

        return output.Result;
    }

    public void Dispose()
    {
        DeleteDirectory(Root);
        DeleteDirectory(BinDir);
        if (_owner is not null)
        {
            DeleteDirectory(_owner);
        }
    }

    /// <summary>Deletes the tree; a stub command the service started just before it stopped may still be writing, so retry a moment.</summary>
    internal static void DeleteDirectory(string path)
    {
        for (var attempt = 0; Directory.Exists(path); attempt++)
        {
            try
            {
                Directory.Delete(path, recursive: true);
            }
            catch (IOException) when (attempt < 20)
            {
                Thread.Sleep(100);
            }
        }
    }
}
