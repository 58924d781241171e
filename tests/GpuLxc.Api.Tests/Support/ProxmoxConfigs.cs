using System.Text;

namespace GpuLxc.Api.Tests.Support;

/// <summary>
/// Real Proxmox VE container configs (Fixtures/proxmox-configs: Proxmox's own test suite and published user
/// configs), and configs written here for what those lack.
/// </summary>
public static class ProxmoxConfigs
{
    public static IEnumerable<string> RealNames() =>
        Directory.EnumerateFiles(Path.Join(AppContext.BaseDirectory, "Fixtures", "proxmox-configs"), "*.conf")
            .Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal);

    public static byte[] Real(string name) => File.ReadAllBytes(Path.Join(AppContext.BaseDirectory, "Fixtures", "proxmox-configs", name));

    /// <summary>Odd files Proxmox may meet: every one must survive a parse → write and an attach → detach byte for byte.</summary>
    public static IReadOnlyDictionary<string, byte[]> Odd { get; } = new Dictionary<string, byte[]>
    {
        ["crlf"] = Bytes("arch: amd64\r\nhostname: crlf\r\nmemory: 512\r\nlxc.apparmor.profile: unconfined\r\n"),
        ["no-final-newline"] = Bytes("arch: amd64\nhostname: bare\nmemory: 512"),
        ["trailing-spaces"] = Bytes("arch: amd64   \nhostname: spaces \t\nlxc.cap.drop: \nmemory: 512\n"),
        ["equals-form-raw"] = Bytes("arch: amd64\nlxc.mount.entry = /srv srv none bind 0 0\nlxc.cgroup2.devices.allow=c 10:200 rwm\n"),
        ["duplicates-and-unknown"] = Bytes("arch: amd64\nmemory: 512\nmemory: 1024\nfrobnicate: yes\nNot: a valid line\n[broken\nlxc.idmap: u 0 100000 65536\n"),
        ["utf8-description"] = Bytes("#%E4%BC%98%E5%8C%96 sysctl %3A done\n#ünïcödé raw\narch: amd64\nhostname: utf8\n"),
        ["pending-and-snapshot"] = Bytes("arch: amd64\nhostname: snap\nmemory: 1024\nparent: before\n\n[pve:pending]\nmemory: 2048\n\n[before]\narch: amd64\nhostname: snap\nmemory: 512\nsnaptime: 1700000000\n"),
        ["empty"] = [],
        ["invalid-utf8"] = [.. Encoding.ASCII.GetBytes("#caf"), 0xE9, .. Encoding.ASCII.GetBytes("\narch: amd64\n")],
        ["blank-lines-only"] = Bytes("\n\n\n"),
    };

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);
}
