using System.Globalization;
using System.Text.RegularExpressions;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Hosts;
using GpuLxc.Api.Inventory;

namespace GpuLxc.Api.Containers.Config;

public enum FindingSeverity
{
    /// <summary>The container starts, but without something its GPU setup meant to give it.</summary>
    Warn,

    /// <summary>The container will not start, or its GPU will not open inside.</summary>
    Fail,
}

/// <summary>One problem with one line of a container config.</summary>
/// <param name="File">The config's host path, e.g. <c>/etc/pve/lxc/110.conf</c>.</param>
/// <param name="Line">The line's number in the file, from 1.</param>
/// <param name="Text">The line as it is in the file.</param>
/// <param name="Severity"><c>fail</c>: the container will not start or the GPU will not open; <c>warn</c>: it starts without a node.</param>
/// <param name="Problem">What is wrong, with the host's facts (the node's stat, the majors in <c>/proc/devices</c>).</param>
/// <param name="Fix">What to change, concretely.</param>
public sealed record ConfigFinding(string File, int Line, string Text, FindingSeverity Severity, string Problem, string Fix);

/// <summary>A line of a config that gives a container an NVIDIA device: a device rule, a bind mount or a <c>devN</c> entry.</summary>
/// <param name="Line">The line's number in the file, from 1.</param>
/// <param name="Text">The line as it is in the file.</param>
public sealed record GpuConfigLine(int Line, string Text);

/// <summary>The GPU lines of one container config, and what is wrong with them on this host.</summary>
/// <param name="File">The config's host path.</param>
/// <param name="Lines">Every GPU line of the main section (snapshots keep the lines of their time), whoever wrote it.</param>
/// <param name="Findings">One per problem, in line order; empty when every line works on this host.</param>
public sealed record GpuConfigAudit(string File, IReadOnlyList<GpuConfigLine> Lines, IReadOnlyList<ConfigFinding> Findings);

/// <summary>
/// Compares the GPU lines of any container config — written by GpuLxc or by hand — with the host as it is: each
/// node's <c>stat(2)</c>, the majors the kernel gave the drivers (<c>/proc/devices</c>) and the cgroup version (issue
/// 13, kind B). Pure: the host facts are given.
/// </summary>
public static partial class GpuConfigAuditor
{
    private const string NvidiaPrefix = "/dev/nvidia";

    /// <param name="file">The config's host path, for the findings.</param>
    /// <param name="config">The parsed config; only its main section is read.</param>
    /// <param name="proxmox">Whether <c>devN:</c> entries are Proxmox's (they are nothing in a plain LXC config).</param>
    /// <param name="cgroup">Which cgroup key the host's LXC reads.</param>
    /// <param name="majors"><c>/proc/devices</c>' character majors by driver name.</param>
    /// <param name="stat">The host's <c>stat(2)</c> of a path; null when it does not exist.</param>
    public static GpuConfigAudit Audit(string file, ConfigText config, bool proxmox, CgroupVersion cgroup,
        IReadOnlyDictionary<string, uint> majors, Func<string, HostFileStat?> stat)
    {
        var allowKey = cgroup switch
        {
            CgroupVersion.V2 => "lxc.cgroup2.devices.allow",
            CgroupVersion.V1 or CgroupVersion.Hybrid => "lxc.cgroup.devices.allow",
            _ => null,
        };
        var known = majors.GroupBy(m => m.Value).ToDictionary(g => g.Key, g => g.Select(m => m.Key).ToList());
        var nvidiaMajors = majors.Where(m => m.Key.StartsWith("nvidia", StringComparison.Ordinal)).Select(m => m.Value).ToHashSet();
        var settings = Enumerable.Range(0, config.EditableEnd)
            .Select(i => (Index: i, Text: config.Lines[i].Text, Setting: config.ParseSetting(config.Lines[i].Text)))
            .Where(l => l.Setting is not null)
            .Select(l => (l.Index, l.Text, l.Setting!.Value.Key, l.Setting.Value.Value))
            .ToList();
        var hasNvidiaPaths = settings.Any(s => NvidiaPath(s.Key, s.Value, proxmox) is not null);

        var lines = new List<GpuConfigLine>();
        var findings = new List<ConfigFinding>();
        var rules = new List<(string Key, DeviceRule Rule)>();
        var mounts = new List<(int Index, string Text, string Path, HostFileStat Stat)>();
        foreach (var (index, text, key, value) in settings)
        {
            var number = index + 1;
            if (key is "lxc.cgroup2.devices.allow" or "lxc.cgroup.devices.allow" && DeviceRule.Parse(value) is { } rule)
            {
                rules.Add((key, rule));
                if (rule.Major is not { } major || (!nvidiaMajors.Contains(major) && (known.ContainsKey(major) || !hasNvidiaPaths)))
                {
                    continue;
                }

                lines.Add(new GpuConfigLine(number, text));
                if (!known.ContainsKey(major))
                {
                    findings.Add(new ConfigFinding(file, number, text, FindingSeverity.Fail,
                        $"No driver has character major {major} in /proc/devices ({DriverMajors(majors)}): the rule allows nothing, and the node it was meant for is denied (EPERM).",
                        $"Replace it with the major /proc/devices gives the driver, e.g. `{config.FormatSetting(allowKey ?? key, $"c {UvmMajor(majors)}:* rwm")}` for nvidia-uvm; majors other than 195 are assigned at boot and differ between hosts."));
                }

                if (allowKey is not null && key != allowKey)
                {
                    findings.Add(new ConfigFinding(file, number, text, FindingSeverity.Fail,
                        $"This host's LXC reads {allowKey} (cgroup {cgroup.ToString().ToLowerInvariant()}) and ignores {key}: the device stays denied.",
                        known.ContainsKey(major)
                            ? $"Rename the key: `{config.FormatSetting(allowKey, value)}`."
                            : $"The replacement for its major (the other finding on this line) takes the key {allowKey}, the one this host's LXC reads."));
                }

                continue;
            }

            if (NvidiaPath(key, value, proxmox) is not { } path)
            {
                continue;
            }

            lines.Add(new GpuConfigLine(number, text));
            var node = stat(path);
            var deviceEntry = key != "lxc.mount.entry";
            if (node is null)
            {
                findings.Add(deviceEntry
                    ? new ConfigFinding(file, number, text, FindingSeverity.Fail,
                        $"{path} does not exist on the host: Proxmox stat()s every devN path when it starts the container and refuses to start it.",
                        $"Recreate {path} at every boot ({Recreate(path)} from a udev rule or the boot unit), or remove the `{key}` entry (a raw `lxc.mount.entry` with `optional` is skipped when the node is missing).")
                    : Optional(value)
                        ? new ConfigFinding(file, number, text, FindingSeverity.Warn,
                            $"{path} does not exist on the host: LXC skips this optional mount, so the container starts without the node.",
                            $"Create {path} ({Recreate(path)}), at every boot from a udev rule or the boot unit, then restart the container.")
                        : new ConfigFinding(file, number, text, FindingSeverity.Fail,
                            $"{path} does not exist on the host and the mount is not optional: LXC fails to start the container.",
                            $"Create {path} at every boot ({Recreate(path)}), or add `optional` to the mount's options."));
                continue;
            }

            var expected = DeviceNodeScanner.ExpectedMajor(path, majors);
            if (node.Type != HostFileType.CharacterDevice || (expected is { } want && node.Major != want))
            {
                var what = node.Type == HostFileType.CharacterDevice ? Invariant($"character device {node.Major}:{node.Minor}") : node.Type.ToString().ToLowerInvariant();
                findings.Add(new ConfigFinding(file, number, text, FindingSeverity.Fail,
                    $"{path} on the host is a {what}, but /proc/devices gives its driver major {expected?.ToString(CultureInfo.InvariantCulture) ?? "none"}: the container gets a node no driver answers.",
                    $"Delete {path} and recreate it ({Recreate(path)}), then restart the container."));
                continue;
            }

            if (!deviceEntry)
            {
                mounts.Add((index, text, path, node));
            }
        }

        // A raw bind mount needs a device rule too; Proxmox writes the rule for a devN entry itself.
        foreach (var (index, text, path, node) in mounts)
        {
            if (allowKey is not null && !rules.Any(r => r.Key == allowKey && r.Rule.Allows(node.Major, node.Minor)))
            {
                findings.Add(new ConfigFinding(file, index + 1, text, FindingSeverity.Fail,
                    Invariant($"No {allowKey} rule allows {path} (c {node.Major}:{node.Minor}): opening it inside fails with EPERM."),
                    Invariant($"Add `{config.FormatSetting(allowKey, $"c {node.Major}:* rwm")}`.")));
            }
        }

        return new GpuConfigAudit(file, lines, findings.OrderBy(f => f.Line).ToList());
    }

    /// <summary>The <c>/dev/nvidia*</c> path a bind mount or <c>devN</c> entry passes; null for any other line.</summary>
    private static string? NvidiaPath(string key, string value, bool proxmox)
    {
        var path = key == "lxc.mount.entry"
            ? value.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()
            : proxmox && DeviceKey().IsMatch(key) ? value.Split(',')[0].Trim() : null;
        return path is not null && path.StartsWith(NvidiaPrefix, StringComparison.Ordinal) ? path : null;
    }

    private static bool Optional(string mountValue)
    {
        var fields = mountValue.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        return fields.Length > 3 && fields[3].Split(',').Contains("optional");
    }

    /// <summary>The command that creates a node the driver does not create until first use.</summary>
    public static string Recreate(string path) => path switch
    {
        DeviceNodeScanner.Modeset => "`nvidia-modprobe -m`",
        _ when path.StartsWith(DeviceNodeScanner.Uvm, StringComparison.Ordinal) => "`nvidia-modprobe -c0 -u`",
        _ when path.StartsWith(DeviceNodeScanner.CapsDirectory, StringComparison.Ordinal) => "`nvidia-modprobe -f /proc/driver/nvidia/capabilities/...` for the capability",
        _ => "`nvidia-smi -L`, or `nvidia-modprobe -c <minor>`",
    };

    private static string DriverMajors(IReadOnlyDictionary<string, uint> majors)
    {
        var nvidia = majors.Where(m => m.Key.StartsWith("nvidia", StringComparison.Ordinal)).Select(m => Invariant($"{m.Key} {m.Value}")).ToList();
        return nvidia.Count > 0 ? string.Join(", ", nvidia) : "no NVIDIA driver is listed";
    }

    private static string UvmMajor(IReadOnlyDictionary<string, uint> majors) =>
        majors.TryGetValue("nvidia-uvm", out var uvm) ? uvm.ToString(CultureInfo.InvariantCulture) : "<nvidia-uvm's major>";

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^dev\d+$")]
    private static partial Regex DeviceKey();

    /// <summary>A cgroup device rule: <c>c 195:* rwm</c>, <c>a</c>; a null major or minor is <c>*</c>; opening needs <c>r</c> (no access = all).</summary>
    private sealed partial record DeviceRule(char Type, uint? Major, uint? Minor, string Access)
    {
        public static DeviceRule? Parse(string value)
        {
            if (value.Trim() == "a")
            {
                return new DeviceRule('a', null, null, "rwm");
            }

            var match = RulePattern().Match(value.Trim());
            if (!match.Success)
            {
                return null;
            }

            return new DeviceRule(match.Groups["type"].Value[0], Number(match.Groups["major"].Value), Number(match.Groups["minor"].Value), match.Groups["access"].Value);
        }

        public bool Allows(uint major, uint minor) => Type is 'a' or 'c' && (Access.Length == 0 || Access.Contains('r', StringComparison.Ordinal)) && (Major is null || Major == major) && (Minor is null || Minor == minor);

        private static uint? Number(string text) => text == "*" ? null : uint.Parse(text, CultureInfo.InvariantCulture);

        [GeneratedRegex(@"^(?<type>[abc])\s+(?<major>\d+|\*):(?<minor>\d+|\*)(\s+(?<access>[rwm]+))?$")]
        private static partial Regex RulePattern();
    }
}

/// <summary>A GPU line of a config that GpuLxc neither wrote nor manages, left in place by an attach.</summary>
/// <param name="Line">Its number, from 1, in the config as the request leaves it: as written, or for a dry run as it is
/// (the file the caller will open).</param>
/// <param name="Text">The line.</param>
/// <param name="Stale">Whether it is wrong on this host (a missing node, a major no driver has, an ignored key).</param>
/// <param name="Problem">What is wrong with it; null when it works.</param>
/// <param name="Fix">What to change; null when it works.</param>
public sealed record HandMadeLine(int Line, string Text, bool Stale, string? Problem, string? Fix)
{
    /// <summary>The audited GPU lines that are none of <paramref name="managed"/> (key and value as the config holds them), with their findings.</summary>
    public static IReadOnlyList<HandMadeLine> Of(GpuConfigAudit audit, ConfigText config, IReadOnlyCollection<(string Key, string Value)> managed) =>
        audit.Lines
            .Where(l => config.ParseSetting(l.Text) is not { } setting || !managed.Contains(setting))
            .Select(l =>
            {
                var findings = audit.Findings.Where(f => f.Line == l.Line).ToList();
                return findings.Count == 0
                    ? new HandMadeLine(l.Line, l.Text, false, null, null)
                    : new HandMadeLine(l.Line, l.Text, true, string.Join(" ", findings.Select(f => f.Problem)), string.Join(" ", findings.Select(f => f.Fix)));
            })
            .ToList();
}
