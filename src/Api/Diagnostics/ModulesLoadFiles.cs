using System.Text.RegularExpressions;
using GpuLxc.Api.Containers.Config;
using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Diagnostics;

/// <summary>
/// Reads modules-load.d as systemd-modules-load does (issue 13, kind D): a file in /etc hides one of the same name in
/// /run, /usr/lib and /lib; a line starting with <c>#</c> or <c>;</c> is a comment and every other non-blank line is one
/// module name, taken whole — a trailing comment or a second name makes it a name no module has.
/// </summary>
public sealed partial class ModulesLoadFiles(IHostFileSystem files)
{
    private static readonly string[] Directories = ["/etc/modules-load.d", "/run/modules-load.d", "/usr/lib/modules-load.d", "/lib/modules-load.d"];

    /// <summary><c>pass</c> when nvidia and nvidia_uvm are each on a line of their own; else <c>warn</c>, broken lines as findings.</summary>
    public async Task<DiagnosticCheck> CheckAsync(CancellationToken cancellationToken)
    {
        const string Id = "modules-load", Title = "nvidia and nvidia_uvm load at boot";
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var listed = new Dictionary<string, string>(StringComparer.Ordinal);
        var findings = new List<ConfigFinding>();
        foreach (var file in Directories.SelectMany(d => files.ListDirectory(d, "*.conf")).Where(f => seen.Add(Path.GetFileName(f))))
        {
            var lines = (await files.TryReadTextAsync(file, cancellationToken) ?? "").Split('\n');
            for (var i = 0; i < lines.Length; i++)
            {
                var line = lines[i].Trim();
                if (line.Length == 0 || line[0] is '#' or ';')
                {
                    continue;
                }

                if (ModuleName().IsMatch(line))
                {
                    listed.TryAdd(line.Replace('-', '_'), $"{file} line {i + 1}");
                }
                else if (line.Contains("nvidia", StringComparison.Ordinal))
                {
                    findings.Add(new ConfigFinding(file, i + 1, lines[i].TrimEnd('\r'), FindingSeverity.Fail,
                        $"systemd-modules-load takes the whole line as one module name, \"{line}\", and no module has it: nothing is loaded from this line.",
                        $"Put each module on a line of its own, with no trailing comment (e.g. `{line.Split([' ', '\t', '#', ';'], StringSplitOptions.RemoveEmptyEntries)[0]}`)."));
                }
            }
        }

        string[] needed = ["nvidia", "nvidia_uvm"];
        var missing = needed.Where(m => !listed.ContainsKey(m)).ToList();
        if (missing.Count == 0)
        {
            return new DiagnosticCheck(Id, Title, CheckStatus.Pass, string.Join("; ", needed.Select(m => $"{m}: {listed[m]}")), null, findings.Count > 0 ? findings : null);
        }

        var detail = $"No modules-load.d line loads {string.Join(" or ", missing)}: without them the device nodes may not exist when containers start." +
                     (findings.Count > 0 ? " " + string.Join("; ", findings.Select(f => $"{f.File} line {f.Line} `{f.Text}`: {f.Problem}")) : "");
        var fix = findings.Count > 0
            ? string.Join(" ", findings.Select(f => $"{f.File} line {f.Line}: {f.Fix}"))
            : "Write `nvidia` and `nvidia_uvm` (one per line) to /etc/modules-load.d/nvidia.conf and run `update-initramfs -u -k all`.";
        return new DiagnosticCheck(Id, Title, CheckStatus.Warn, detail, fix, findings.Count > 0 ? findings : null);
    }

    [GeneratedRegex(@"^[A-Za-z0-9_-]+$")]
    private static partial Regex ModuleName();
}
