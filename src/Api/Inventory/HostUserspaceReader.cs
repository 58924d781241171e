using GpuLxc.Api.HostAccess;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace GpuLxc.Api.Inventory;

/// <summary>
/// Finds the loaded driver's userspace files on the host, through the host seam (host root), on every call:
/// <list type="number">
/// <item>from an NVIDIA container toolkit CDI spec (<see cref="CdiDirectories"/>, YAML or JSON, <c>kind: nvidia.com/…</c>)
/// whose mounts name files of the loaded version — the toolkit knows the driver's layout best; a spec written for
/// another version (the driver was upgraded, the spec was not regenerated) is skipped, with a note;</item>
/// <item>else by GpuLxc's own search: each <see cref="DriverFiles"/> name with the loaded version
/// (<c>libcuda.so.580.159.04</c>) in the loader's directories (<see cref="LibraryDirectories"/> then what
/// <c>/etc/ld.so.conf.d/*.conf</c> lists), and the programs in <see cref="ProgramDirectories"/>; the first directory
/// that has a name wins, so a merged <c>/lib</c> beside <c>/usr/lib</c> gives each file once.</item>
/// </list>
/// Null when no NVIDIA module is loaded: without a version no file can be the right one.
/// </summary>
public sealed class HostUserspaceReader(IHostFileSystem files, LoadedDriver loadedDriver)
{
    public static readonly IReadOnlyList<string> CdiDirectories = ["/etc/cdi", "/var/run/cdi"];

    /// <summary>The loader's default directories, and where NVIDIA's and cloud images' installs put the driver.</summary>
    public static readonly IReadOnlyList<string> LibraryDirectories =
    [
        "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/lib",
        "/usr/local/nvidia/lib64", "/usr/local/nvidia/lib",
    ];

    public static readonly IReadOnlyList<string> ProgramDirectories = ["/usr/bin", "/usr/local/bin", "/usr/sbin", "/bin", "/usr/local/nvidia/bin"];

    private const string LdSoConfDirectory = "/etc/ld.so.conf.d";

    private static readonly IDeserializer Yaml = new DeserializerBuilder()
        .WithNamingConvention(CamelCaseNamingConvention.Instance)
        .IgnoreUnmatchedProperties()
        .Build();

    /// <summary>The loaded driver's userspace, or null when no NVIDIA module is loaded.</summary>
    public async Task<HostUserspace?> ReadAsync(CancellationToken cancellationToken)
    {
        if (await loadedDriver.ReadVersionAsync(cancellationToken) is not { } version)
        {
            return null;
        }

        var notes = new List<string>();
        foreach (var spec in CdiDirectories.SelectMany(d => files.ListDirectory(d)).Where(IsSpecFile))
        {
            var found = await FromCdiSpecAsync(spec, version, notes, cancellationToken);
            if (found is { Count: > 0 })
            {
                return new HostUserspace(version, spec, Ordered(found), notes);
            }
        }

        return new HostUserspace(version, "search", Ordered(await SearchAsync(version, cancellationToken)), notes);
    }

    private static bool IsSpecFile(string path) =>
        path.EndsWith(".yaml", StringComparison.Ordinal) || path.EndsWith(".yml", StringComparison.Ordinal) || path.EndsWith(".json", StringComparison.Ordinal);

    /// <summary>The spec's driver files of <paramref name="version"/>; null when it is not NVIDIA's, cannot be read, or is stale.</summary>
    private async Task<List<UserspaceFile>?> FromCdiSpecAsync(string path, string version, List<string> notes, CancellationToken cancellationToken)
    {
        CdiSpec? spec;
        try
        {
            spec = Yaml.Deserialize<CdiSpec?>(await files.TryReadTextAsync(path, cancellationToken) ?? "");
        }
        catch (YamlException e)
        {
            notes.Add($"CDI spec {path} could not be parsed ({e.Message}); skipped.");
            return null;
        }

        if (spec?.Kind is not { } kind || !kind.StartsWith("nvidia.com/", StringComparison.Ordinal))
        {
            return null;
        }

        var hostPaths = (spec.ContainerEdits?.Mounts ?? [])
            .Concat((spec.Devices ?? []).SelectMany(d => d.ContainerEdits?.Mounts ?? []))
            .Select(m => m.HostPath).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
        if (hostPaths.FirstOrDefault(p => DriverFiles.IsOtherVersion(Path.GetFileName(p), version)) is { } stale)
        {
            notes.Add($"CDI spec {path} is for another driver version ({Path.GetFileName(stale)}; {version} is loaded): skipped. " +
                      "Regenerate it with `nvidia-ctk cdi generate`.");
            return null;
        }

        return hostPaths.Select(p => DriverFiles.Classify(p, version)).OfType<UserspaceFile>()
            .DistinctBy(f => f.Name, StringComparer.Ordinal).ToList();
    }

    private async Task<List<UserspaceFile>> SearchAsync(string version, CancellationToken cancellationToken)
    {
        var directories = LibraryDirectories.Concat(await LdSoConfDirectoriesAsync(cancellationToken)).Distinct(StringComparer.Ordinal).ToList();
        var found = new List<UserspaceFile>();
        foreach (var library in DriverFiles.Libraries)
        {
            if (directories.Select(d => $"{d}/{library.FileName(version)}").FirstOrDefault(files.FileExists) is { } path)
            {
                found.Add(DriverFiles.Classify(path, version)!);
            }
        }

        foreach (var (name, _) in DriverFiles.Executables)
        {
            if (await ProgramAsync(name, cancellationToken) is { } path)
            {
                found.Add(DriverFiles.Classify(path, version)!);
            }
        }

        return found;
    }

    /// <summary>
    /// The program to bind: the first ELF executable of that name in <see cref="ProgramDirectories"/>, else the first
    /// file of that name. A host may put a wrapper script first on PATH (seen on the GPU test host:
    /// <c>/usr/bin/nvidia-smi</c> runs <c>exec /usr/local/nvidia/bin/nvidia-smi</c>); bound into a guest, the wrapper
    /// would exec a path the guest does not have.
    /// </summary>
    private async Task<string?> ProgramAsync(string name, CancellationToken cancellationToken)
    {
        var candidates = ProgramDirectories.Select(d => $"{d}/{name}").Where(files.FileExists).ToList();
        foreach (var candidate in candidates)
        {
            if (await files.TryReadHeadAsync(candidate, 4, cancellationToken) is [0x7F, (byte)'E', (byte)'L', (byte)'F'])
            {
                return candidate;
            }
        }

        return candidates.FirstOrDefault();
    }

    /// <summary>The absolute directories the <c>/etc/ld.so.conf.d</c> files list (comments and <c>include</c> lines skipped).</summary>
    private async Task<List<string>> LdSoConfDirectoriesAsync(CancellationToken cancellationToken)
    {
        var directories = new List<string>();
        foreach (var conf in files.ListDirectory(LdSoConfDirectory, "*.conf"))
        {
            var text = await files.TryReadTextAsync(conf, cancellationToken) ?? "";
            directories.AddRange(text.Split('\n').Select(l => l.Split('#')[0].Trim())
                .Where(l => l.StartsWith('/') && !l.Contains("..", StringComparison.Ordinal)).Select(l => l.TrimEnd('/')));
        }

        return directories;
    }

    private static List<UserspaceFile> Ordered(IEnumerable<UserspaceFile> found) =>
        found.OrderBy(f => f.Capability).ThenBy(f => f.Name, StringComparer.Ordinal).ToList();

    /// <summary>The parts of a CDI spec (github.com/cncf-tags/container-device-interface, SPEC.md) that name files.</summary>
    private sealed class CdiSpec
    {
        public string? Kind { get; set; }

        public CdiEdits? ContainerEdits { get; set; }

        public List<CdiDevice>? Devices { get; set; }
    }

    private sealed class CdiDevice
    {
        public CdiEdits? ContainerEdits { get; set; }
    }

    private sealed class CdiEdits
    {
        public List<CdiMount>? Mounts { get; set; }
    }

    private sealed class CdiMount
    {
        public string? HostPath { get; set; }
    }
}
