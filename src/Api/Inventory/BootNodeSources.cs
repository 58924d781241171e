using System.Text.RegularExpressions;
using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Inventory;

/// <summary>Something on the host that creates NVIDIA device nodes at boot.</summary>
/// <param name="File">The udev rule file or the enabled systemd unit, e.g. <c>/etc/udev/rules.d/70-gpulxc-nvidia.rules</c>.</param>
/// <param name="Command">The command that creates the nodes, as the file gives it, e.g. <c>/usr/bin/nvidia-modprobe -c0 -u</c>.</param>
/// <param name="Creates">Whether the command creates a node, by path (<c>/dev/nvidia-uvm</c>).</param>
public sealed record BootNodeSource(string File, string Command, Func<string, bool> Creates);

/// <summary>
/// Which NVIDIA device nodes exist again after a reboot. The nvidia kernel modules do not create their nodes: the
/// driver's userspace does, on first use (<c>nvidia-modprobe</c>, called by <c>nvidia-smi</c>, CUDA, X or
/// <c>nvidia-persistenced</c>). So a node that exists now is gone after a reboot unless a udev rule or an enabled boot
/// unit recreates it (GpuLxc's host install writes both).
/// </summary>
/// <param name="Sources">The rules and units found, each with what it creates.</param>
public sealed record BootNodeSources(IReadOnlyList<BootNodeSource> Sources)
{
    /// <summary>What recreates <paramref name="nodePath"/> at boot, or null when nothing does.</summary>
    public BootNodeSource? For(string nodePath) => Sources.FirstOrDefault(s => s.Creates(nodePath));
}

/// <summary>
/// Reads <see cref="BootNodeSources"/> from the udev rule directories (a file in <c>/etc</c> overrides one of the same
/// name in <c>/run</c>, <c>/usr/lib</c>, <c>/lib</c>, as udev does) and from the systemd units enabled under
/// <c>/etc/systemd/system/*.wants</c>. A rule line with an odd number of <c>"</c> is skipped: udev rejects it. What the
/// commands create is what <c>nvidia-modprobe</c>'s options say (<c>-c N</c>: <c>/dev/nvidiaN</c>; always
/// <c>/dev/nvidiactl</c>; <c>-u</c>: both uvm nodes; <c>-m</c>: modeset; <c>-f …capabilities…</c>: the caps), what
/// <c>nvidia-smi</c> and <c>nvidia-persistenced</c> open (the control and GPU nodes), and <c>mknod</c>'s path.
/// </summary>
public sealed partial class BootNodeSourceReader(IHostFileSystem files)
{
    private static readonly string[] RuleDirectories = ["/etc/udev/rules.d", "/run/udev/rules.d", "/usr/lib/udev/rules.d", "/lib/udev/rules.d"];
    private static readonly string[] UnitDirectories = ["/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"];

    public async Task<BootNodeSources> ReadAsync(CancellationToken cancellationToken)
    {
        var sources = new List<BootNodeSource>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in RuleDirectories.SelectMany(d => files.ListDirectory(d, "*.rules")))
        {
            if (!seen.Add(Path.GetFileName(file)))
            {
                continue;
            }

            foreach (var line in (await files.TryReadTextAsync(file, cancellationToken) ?? "").Split('\n'))
            {
                if (line.TrimStart().StartsWith('#') || line.Count(c => c == '"') % 2 != 0)
                {
                    continue;
                }

                sources.AddRange(RunPattern().Matches(line).SelectMany(m => Commands(file, m.Groups["command"].Value)));
            }
        }

        var enabled = files.ListDirectory("/etc/systemd/system", "*.wants").SelectMany(d => files.ListDirectory(d, "*.service"))
            .Select(Path.GetFileName).OfType<string>().ToHashSet(StringComparer.Ordinal);
        foreach (var unit in enabled.Order(StringComparer.Ordinal))
        {
            var file = UnitDirectories.Select(d => $"{d}/{unit}").FirstOrDefault(files.FileExists);
            foreach (var line in file is null ? [] : (await files.TryReadTextAsync(file, cancellationToken) ?? "").Split('\n'))
            {
                var exec = ExecPattern().Match(line);
                if (exec.Success)
                {
                    sources.AddRange(Commands(file!, exec.Groups["command"].Value));
                }
            }
        }

        return new BootNodeSources(sources);
    }

    /// <summary>The node-creating commands in one <c>RUN</c> or <c>Exec</c> value (shell wrappers and chains included).</summary>
    public static IEnumerable<BootNodeSource> Commands(string file, string value)
    {
        foreach (var segment in SeparatorPattern().Split(value.Replace("'", " ", StringComparison.Ordinal)))
        {
            var words = segment.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var at = Array.FindIndex(words, w => Path.GetFileName(w) is "nvidia-modprobe" or "nvidia-smi" or "nvidia-persistenced" or "mknod");
            if (at < 0)
            {
                continue;
            }

            var args = words[(at + 1)..];
            var creates = Path.GetFileName(words[at]) switch
            {
                "nvidia-modprobe" => ModprobeCreates(args),
                "mknod" => MknodCreates(args),
                _ => path => path == DeviceNodeScanner.Control || GpuNodePattern().IsMatch(path),
            };
            yield return new BootNodeSource(file, string.Join(' ', words[at..]), creates);
        }
    }

    private static Func<string, bool> ModprobeCreates(string[] args)
    {
        var minors = new HashSet<string>(StringComparer.Ordinal);
        var (uvm, modeset, caps) = (false, false, false);
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg.StartsWith("--create-nvidia-device-file=", StringComparison.Ordinal))
            {
                minors.Add(arg.Split('=', 2)[1]);
            }
            else if (arg == "-c" && i + 1 < args.Length)
            {
                minors.Add(args[++i]);
            }
            else if (arg == "-f" && i + 1 < args.Length)
            {
                caps |= args[++i].Contains("capabilities", StringComparison.Ordinal);
            }
            else if (arg.StartsWith('-') && !arg.StartsWith("--", StringComparison.Ordinal))
            {
                // Short options combine: -c0 -u, -um, -c0u.
                for (var j = 1; j < arg.Length; j++)
                {
                    switch (arg[j])
                    {
                        case 'c':
                            var digits = new string(arg[(j + 1)..].TakeWhile(char.IsAsciiDigit).ToArray());
                            minors.Add(digits);
                            j += digits.Length;
                            break;
                        case 'u':
                            uvm = true;
                            break;
                        case 'm':
                            modeset = true;
                            break;
                    }
                }
            }
            else if (arg is "--unified-memory")
            {
                uvm = true;
            }
            else if (arg is "--modeset")
            {
                modeset = true;
            }
        }

        return path => path == DeviceNodeScanner.Control ||
                       (GpuNodePattern().Match(path) is { Success: true } gpu && minors.Contains(gpu.Groups["minor"].Value)) ||
                       (uvm && (path == DeviceNodeScanner.Uvm || path == DeviceNodeScanner.UvmTools)) ||
                       (modeset && path == DeviceNodeScanner.Modeset) ||
                       (caps && path.StartsWith(DeviceNodeScanner.CapsDirectory + "/", StringComparison.Ordinal));
    }

    /// <summary><c>mknod [-m MODE] [-Z] PATH c MAJOR MINOR</c>; a path built in a shell loop (<c>/dev/nvidia${i}</c>) stands for every GPU node.</summary>
    private static Func<string, bool> MknodCreates(string[] args)
    {
        var target = args.FirstOrDefault(a => a.StartsWith("/dev/", StringComparison.Ordinal));
        if (target is null)
        {
            return _ => false;
        }

        return target.Contains('$', StringComparison.Ordinal) && target.StartsWith("/dev/nvidia", StringComparison.Ordinal) && !target.Contains('-', StringComparison.Ordinal)
            ? path => GpuNodePattern().IsMatch(path)
            : path => path == target;
    }

    [GeneratedRegex("RUN\\+=\"(?<command>[^\"]*)\"")]
    private static partial Regex RunPattern();

    [GeneratedRegex(@"^\s*ExecStart(?:Pre|Post)?\s*=\s*[-@:+!]*(?<command>.*)$")]
    private static partial Regex ExecPattern();

    [GeneratedRegex(@"&&|\|\||;|\|")]
    private static partial Regex SeparatorPattern();

    [GeneratedRegex(@"^/dev/nvidia(?<minor>[0-9]+)$")]
    private static partial Regex GpuNodePattern();
}
