using System.Text.RegularExpressions;

namespace GpuLxc.Api.Containers.Config;

/// <summary>
/// A plain LXC config (<c>/var/lib/lxc/&lt;name&gt;/config</c>): <c>key = value</c> lines, <c>#</c> comments and
/// <c>lxc.include</c>s, all kept. New settings are appended at the end, after any includes, so that they win.
/// </summary>
public sealed partial class LxcConfig(byte[] bytes) : ConfigText(bytes)
{
    public override int EditableEnd => Lines.Count;

    public override (string Key, string Value)? ParseSetting(string line)
    {
        var match = SettingLine().Match(line);
        return match.Success ? (match.Groups["key"].Value, match.Groups["value"].Value) : null;
    }

    public override string FormatSetting(string key, string value) => $"{key} = {value}";

    protected override int InsertionIndex(string key)
    {
        var end = Lines.Count;
        while (end > 0 && Lines[end - 1].Text.Trim().Length == 0 && Lines[end - 1].Terminator.Length > 0)
        {
            end--;
        }

        return end;
    }

    [GeneratedRegex(@"^\s*(?<key>[a-z][a-z0-9_.\-]*)\s*=\s*(?<value>.*?)\s*$")]
    private static partial Regex SettingLine();
}
