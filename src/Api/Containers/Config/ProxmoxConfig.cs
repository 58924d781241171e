using System.Text.RegularExpressions;

namespace GpuLxc.Api.Containers.Config;

/// <summary>
/// A Proxmox VE container config (<c>/etc/pve/lxc/&lt;vmid&gt;.conf</c>). Edits stay in the main section — before
/// the first <c>[snapshot]</c> or <c>[pve:pending]</c> header — and are placed where Proxmox's own writer would put
/// them, so that the file stays a fixed point of Proxmox's parse → write: <c>key: value</c> settings in sorted key
/// order after the <c>#</c> description, raw <c>lxc.*</c> lines last.
/// </summary>
public sealed partial class ProxmoxConfig(byte[] bytes) : ConfigText(bytes)
{
    public override int EditableEnd
    {
        get
        {
            for (var i = 0; i < Lines.Count; i++)
            {
                if (SectionHeader().IsMatch(Lines[i].Text))
                {
                    return i;
                }
            }

            return Lines.Count;
        }
    }

    /// <summary>Proxmox's line grammar: <c>#</c> description, raw <c>lxc.key: value</c> or <c>lxc.key = value</c>, <c>key: value</c>.</summary>
    public override (string Key, string Value)? ParseSetting(string line)
    {
        if (line.StartsWith('#'))
        {
            return null;
        }

        var raw = RawLine().Match(line);
        if (raw.Success)
        {
            return (raw.Groups["key"].Value, raw.Groups["value"].Value);
        }

        var setting = SettingLine().Match(line);
        return setting.Success ? (setting.Groups["key"].Value, setting.Groups["value"].Value) : null;
    }

    public override string FormatSetting(string key, string value) => $"{key}: {value}";

    protected override int InsertionIndex(string key)
    {
        var end = EditableEnd;
        int lastContent = -1, lastSetting = -1, lastRaw = -1;
        for (var i = 0; i < end; i++)
        {
            var text = Lines[i].Text;
            if (text.Trim().Length == 0)
            {
                continue;
            }

            lastContent = i;
            if (ParseSetting(text) is not { } setting)
            {
                continue;
            }

            if (setting.Key.StartsWith("lxc.", StringComparison.Ordinal))
            {
                lastRaw = i;
            }
            else if (!key.StartsWith("lxc.", StringComparison.Ordinal) && string.CompareOrdinal(setting.Key, key) > 0 && lastRaw < 0)
            {
                return i;
            }
            else
            {
                lastSetting = i;
            }
        }

        if (key.StartsWith("lxc.", StringComparison.Ordinal))
        {
            return (lastRaw >= 0 ? lastRaw : lastContent) + 1;
        }

        return lastSetting >= 0 ? lastSetting + 1 : FirstRawOr(lastContent + 1, end);
    }

    private int FirstRawOr(int fallback, int end)
    {
        for (var i = 0; i < end; i++)
        {
            if (ParseSetting(Lines[i].Text) is { } setting && setting.Key.StartsWith("lxc.", StringComparison.Ordinal))
            {
                return i;
            }
        }

        return fallback;
    }

    [GeneratedRegex(@"^\[(?:pve:pending|[a-z][a-z0-9_\-]+)\]\s*$", RegexOptions.IgnoreCase)]
    private static partial Regex SectionHeader();

    [GeneratedRegex(@"^(?<key>lxc\.[a-z0-9_\-.]+)(?::|\s*=)\s*(?<value>.*?)\s*$")]
    private static partial Regex RawLine();

    [GeneratedRegex(@"^(?<key>[a-z][a-z_]*\d*):\s*(?<value>.*?)\s*$")]
    private static partial Regex SettingLine();
}
