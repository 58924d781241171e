namespace GpuLxc.Api.Tests.Support;

/// <summary>Proxmox hosts with containers, for the attachment tests.</summary>
public static class ContainerHosts
{
    public const string Jellyfin = """
        arch: amd64
        cores: 4
        features: nesting=1
        hostname: jellyfin
        memory: 4096
        net0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:5A:3C:01,ip=dhcp,type=veth
        ostype: debian
        rootfs: local-lvm:vm-101-disk-0,size=16G
        swap: 512
        unprivileged: 1

        """;

    public static readonly string DemoSample = Path.Join(Repository.Root, "samples", "hosts", "demo");

    /// <summary>samples/hosts/demo as checked in, with its device nodes made by its materialize.sh when asked.</summary>
    public static HostTree Demo(bool materialized)
    {
        var tree = HostTree.CopyOf(DemoSample);
        if (materialized)
        {
            HostTree.Run(Path.Join(DemoSample, "materialize.sh"), tree.Root);
        }

        return tree;
    }

    /// <summary>A Proxmox VE 8.2 node on cgroup2 (the demo host: RTX 3060, uvm major 509, caps 511), its nodes made.</summary>
    public static HostTree Pve8() => Demo(materialized: true).WithPct().SetStatus("101", "running").SetStatus("102", "stopped");

    /// <summary>The seed's Proxmox VE 6 node (cgroup v1, no pveversion: no dev entries), uvm major 243.</summary>
    public static HostTree Pve6() => HostFixtures.Seed().WithPct();
}
