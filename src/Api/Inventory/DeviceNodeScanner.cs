using System.Globalization;
using System.Text.RegularExpressions;
using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Inventory;

/// <summary>The NVIDIA device nodes of the host, each checked against the majors in <c>/proc/devices</c>.</summary>
public sealed record DeviceNodeScan(IReadOnlyList<DeviceNode> Nodes, IReadOnlyDictionary<string, uint> CharacterMajors)
{
    public IEnumerable<DeviceNode> MissingRequired => Nodes.Where(n => n.Required && !n.Present);

    public IEnumerable<DeviceNode> WrongMajor => Nodes.Where(n => n.MajorMatches == false);
}

/// <summary>
/// Reads <c>/dev/nvidia*</c> and <c>/dev/nvidia-caps/*</c> with <c>stat(2)</c>. The uvm and caps majors are
/// assigned at boot and differ between hosts, so they are read, never assumed.
/// </summary>
public sealed partial class DeviceNodeScanner(IHostFileSystem files)
{
    public const string Control = "/dev/nvidiactl";
    public const string Uvm = "/dev/nvidia-uvm";
    public const string UvmTools = "/dev/nvidia-uvm-tools";
    public const string Modeset = "/dev/nvidia-modeset";
    public const string CapsDirectory = "/dev/nvidia-caps";

    public static string GpuNode(int minor) => string.Create(CultureInfo.InvariantCulture, $"/dev/nvidia{minor}");

    /// <param name="gpuMinors">Minors of the GPUs bound to the nvidia driver: their nodes are required.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    public async Task<DeviceNodeScan> ScanAsync(IReadOnlyCollection<int> gpuMinors, CancellationToken cancellationToken)
    {
        var majors = NvidiaProcFs.ParseCharacterDevices(await files.TryReadTextAsync("/proc/devices", cancellationToken) ?? "");

        var required = new SortedSet<string>(StringComparer.Ordinal) { Control, Uvm };
        required.UnionWith(gpuMinors.Select(GpuNode));

        var paths = new SortedSet<string>(required, StringComparer.Ordinal) { UvmTools, Modeset };
        paths.UnionWith(files.ListDirectory("/dev", "nvidia*").Where(path => GpuNodePattern().IsMatch(path)));
        paths.UnionWith(files.ListDirectory(CapsDirectory));

        var nodes = paths.Select(path => Describe(path, required.Contains(path), majors)).ToList();
        return new DeviceNodeScan(nodes, majors);
    }

    /// <summary>The <c>/proc/devices</c> major of the driver behind a node.</summary>
    public static uint? ExpectedMajor(string path, IReadOnlyDictionary<string, uint> majors)
    {
        string[] names = path switch
        {
            _ when path.StartsWith(Uvm, StringComparison.Ordinal) => ["nvidia-uvm"],
            _ when path.StartsWith(CapsDirectory + "/", StringComparison.Ordinal) => ["nvidia-caps"],
            _ => ["nvidia-frontend", "nvidia", "nvidiactl"],
        };
        foreach (var name in names)
        {
            if (majors.TryGetValue(name, out var major))
            {
                return major;
            }
        }

        return null;
    }

    private DeviceNode Describe(string path, bool required, IReadOnlyDictionary<string, uint> majors)
    {
        var expected = ExpectedMajor(path, majors);
        if (files.Stat(path) is not { } stat)
        {
            return new DeviceNode(path, false, required, null, null, null, null, null, null, expected, null);
        }

        var isDevice = stat.Type == HostFileType.CharacterDevice;
        bool? matches = !isDevice ? false : expected is null ? null : stat.Major == expected;
        return new DeviceNode(path, true, required, stat.Type,
            isDevice ? stat.Major : null, isDevice ? stat.Minor : null,
            stat.OctalMode, stat.Uid, stat.Gid, expected, matches);
    }

    [GeneratedRegex(@"^/dev/nvidia[0-9]+$")]
    private static partial Regex GpuNodePattern();
}
