using System.Globalization;
using System.Text.RegularExpressions;
using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Inventory;

/// <summary>A VM that claims a GPU for PCI passthrough: the GPU is that VM's, not the host driver's or the containers'.</summary>
/// <param name="Vm">The VM's id (<c>200</c>).</param>
/// <param name="Entry">The config entry that names the GPU (<c>hostpci0</c>).</param>
/// <param name="Config">The VM's config on the host (<c>/etc/pve/qemu-server/200.conf</c>).</param>
public sealed record GpuAssignment(int Vm, string Entry, string Config);

/// <summary>
/// Reads which PCI devices Proxmox VMs take for passthrough: the <c>hostpciN</c> entries of
/// <c>/etc/pve/qemu-server/*.conf</c> (their main section; snapshots keep entries of their time), by address
/// (<c>0000:41:00.0</c>, or <c>41:00</c> for every function) or by a resource mapping of <c>/etc/pve/mapping/pci.cfg</c>
/// for this node.
/// </summary>
public sealed partial class VmPassthroughReader(IHostFileSystem files)
{
    public const string QemuServerPath = "/etc/pve/qemu-server";
    public const string PciMappingFile = "/etc/pve/mapping/pci.cfg";

    /// <summary>Each claimed device as a PCI address, or an address prefix (<c>0000:41:00.</c>) where the entry takes every function.</summary>
    public async Task<IReadOnlyList<(string Address, GpuAssignment Assignment)>> ReadAsync(CancellationToken cancellationToken)
    {
        var mappings = await MappingsAsync(cancellationToken);
        var claims = new List<(string, GpuAssignment)>();
        foreach (var config in files.ListDirectory(QemuServerPath, "*.conf"))
        {
            if (!int.TryParse(Path.GetFileNameWithoutExtension(config), NumberStyles.None, CultureInfo.InvariantCulture, out var vm))
            {
                continue;
            }

            var text = await files.TryReadTextAsync(config, cancellationToken) ?? "";
            foreach (var line in text.Split('\n').TakeWhile(line => !line.StartsWith('[')))
            {
                if (HostPciPattern().Match(line) is not { Success: true } entry)
                {
                    continue;
                }

                var assignment = new GpuAssignment(vm, entry.Groups["key"].Value, config);
                foreach (var option in entry.Groups["value"].Value.Split(',', StringSplitOptions.TrimEntries))
                {
                    var (name, value) = option.Contains('=', StringComparison.Ordinal) ? (option[..option.IndexOf('=', StringComparison.Ordinal)], option[(option.IndexOf('=', StringComparison.Ordinal) + 1)..]) : ("host", option);
                    var ids = name switch
                    {
                        "host" => value.Split(';'),
                        "mapping" => mappings.GetValueOrDefault(value) ?? [],
                        _ => [],
                    };
                    claims.AddRange(ids.Select(Pattern).OfType<string>().Select(address => (address, assignment)));
                }
            }
        }

        return claims;
    }

    /// <summary>The VM that claims the device at <paramref name="address"/>, or null.</summary>
    public static GpuAssignment? Find(IReadOnlyList<(string Address, GpuAssignment Assignment)> claims, string address) =>
        claims.FirstOrDefault(c => c.Address.EndsWith('.') ? address.StartsWith(c.Address, StringComparison.Ordinal) : address == c.Address).Assignment;

    /// <summary><c>0000:41:00.0</c> and <c>41:00.0</c> → <c>0000:41:00.0</c>; <c>41:00</c> (every function) → <c>0000:41:00.</c>.</summary>
    private static string? Pattern(string id) =>
        PciAddress.Normalize(id) ?? (PciAddress.Normalize($"{id.Trim()}.0") is { } first ? first[..^1] : null);

    /// <summary>Mapping id → the device paths it maps on this node (<c>map id=10de:2231,node=pve,path=0000:41:00.0</c>).</summary>
    private async Task<Dictionary<string, string[]>> MappingsAsync(CancellationToken cancellationToken)
    {
        var node = (await files.TryReadTextAsync("/proc/sys/kernel/hostname", cancellationToken))?.Trim();
        var mappings = new Dictionary<string, string[]>(StringComparer.Ordinal);
        string? current = null;
        foreach (var line in (await files.TryReadTextAsync(PciMappingFile, cancellationToken) ?? "").Split('\n'))
        {
            if (line.Length > 0 && !char.IsWhiteSpace(line[0]))
            {
                current = line.Trim();
                continue;
            }

            var map = line.Trim();
            if (current is null || !map.StartsWith("map ", StringComparison.Ordinal))
            {
                continue;
            }

            var fields = map[4..].Split(',').Select(f => f.Split('=', 2)).Where(f => f.Length == 2).ToDictionary(f => f[0], f => f[1], StringComparer.Ordinal);
            if (fields.TryGetValue("path", out var path) && (node is null || fields.GetValueOrDefault("node") is not { } mapped || mapped == node))
            {
                mappings[current] = [.. mappings.GetValueOrDefault(current) ?? [], .. path.Split(';')];
            }
        }

        return mappings;
    }

    [GeneratedRegex(@"^(?<key>hostpci[0-9]+):\s*(?<value>\S+)\s*$")]
    private static partial Regex HostPciPattern();
}
