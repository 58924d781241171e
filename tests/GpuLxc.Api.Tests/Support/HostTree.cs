namespace GpuLxc.Api.Tests.Support;

/// <summary>A prepared host: a temporary directory used as <c>GpuLxc:Host:Root</c>, plus a bin directory of stub commands.</summary>
public sealed class HostTree : IDisposable
{
    public HostTree()
    {
        Root = Directory.CreateTempSubdirectory("gpulxc-host-").FullName;
        BinDir = Directory.CreateTempSubdirectory("gpulxc-bin-").FullName;
    }

    public string Root { get; }

    public string BinDir { get; }

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

    public HostTree WithFile(string hostPath, string content)
    {
        var path = PathOf(hostPath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        return this;
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

    public HostTree WithoutCommand(string name)
    {
        File.Delete(Path.Join(BinDir, name));
        return this;
    }

    public string PathOf(string hostPath) => Path.Join(Root, hostPath);

    public void Dispose()
    {
        DeleteDirectory(Root);
        DeleteDirectory(BinDir);
    }

    internal static void DeleteDirectory(string path)
    {
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
    }
}
