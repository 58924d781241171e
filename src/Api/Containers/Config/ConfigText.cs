using System.Text;

namespace GpuLxc.Api.Containers.Config;

/// <summary>One line of a config file: its text and the terminator it had (<c>\n</c>, <c>\r\n</c>, or none at the end).</summary>
public sealed class ConfigLine(string text, string terminator)
{
    public string Text { get; } = text;

    public string Terminator { get; internal set; } = terminator;
}

/// <summary>
/// A config file as its lines, exactly: bytes are decoded as Latin-1 (one char per byte), so any file — CRLF, no
/// final newline, trailing spaces, invalid UTF-8 — is written back byte for byte. Edits add or remove whole lines.
/// </summary>
public abstract class ConfigText
{
    private readonly List<ConfigLine> _lines;

    protected ConfigText(byte[] bytes)
    {
        _lines = Split(Encoding.Latin1.GetString(bytes));
    }

    public IReadOnlyList<ConfigLine> Lines => _lines;

    public byte[] ToBytes()
    {
        var text = new StringBuilder();
        foreach (var line in _lines)
        {
            text.Append(line.Text).Append(line.Terminator);
        }

        return Encoding.Latin1.GetBytes(text.ToString());
    }

    /// <summary>The key and value of a setting line in this format, or null for comments, blanks and anything else.</summary>
    public abstract (string Key, string Value)? ParseSetting(string line);

    /// <summary>A setting line as this format writes it.</summary>
    public abstract string FormatSetting(string key, string value);

    /// <summary>Where a new setting with <paramref name="key"/> goes.</summary>
    protected abstract int InsertionIndex(string key);

    /// <summary>
    /// The lines that hold settings this edit may touch (Proxmox: the main section only). Computed on each read,
    /// so loops read it once.
    /// </summary>
    public abstract int EditableEnd { get; }

    /// <summary>Indexes of the editable lines whose setting is <paramref name="key"/> = <paramref name="value"/>.</summary>
    public IEnumerable<int> Find(string key, string value)
    {
        for (int i = 0, end = EditableEnd; i < end; i++)
        {
            if (ParseSetting(_lines[i].Text) is { } setting && setting.Key == key && setting.Value == value)
            {
                yield return i;
            }
        }
    }

    /// <summary>The value of the first editable setting named <paramref name="key"/>.</summary>
    public string? Get(string key)
    {
        for (int i = 0, end = EditableEnd; i < end; i++)
        {
            if (ParseSetting(_lines[i].Text) is { } setting && setting.Key == key)
            {
                return setting.Value;
            }
        }

        return null;
    }

    public IEnumerable<(string Key, string Value)> Settings()
    {
        for (int i = 0, end = EditableEnd; i < end; i++)
        {
            if (ParseSetting(_lines[i].Text) is { } setting)
            {
                yield return setting;
            }
        }
    }

    /// <summary>Adds a setting line where this format puts it, in the file's own line ending.</summary>
    public void Add(string key, string value)
    {
        var index = InsertionIndex(key);
        var previous = index > 0 ? _lines[index - 1] : null;
        var terminator = previous?.Terminator is { Length: > 0 } ending ? ending : DominantTerminator();
        if (previous is not null && previous.Terminator.Length == 0)
        {
            // Appending after a last line without a newline: that line gets one and the new line ends the file bare,
            // so that removing it again restores the original bytes.
            previous.Terminator = terminator;
            terminator = "";
        }

        _lines.Insert(index, new ConfigLine(FormatSetting(key, value), terminator));
    }

    /// <summary>
    /// Gives the first editable setting named <paramref name="key"/> the value <paramref name="value"/> in place, keeping
    /// its line ending (a line whose value is already that is left as it is, trailing spaces and all); adds the setting
    /// where this format puts it when there is none. Returns whether the text changed.
    /// </summary>
    public bool Set(string key, string value)
    {
        for (int i = 0, end = EditableEnd; i < end; i++)
        {
            if (ParseSetting(_lines[i].Text) is { } setting && setting.Key == key)
            {
                if (setting.Value == value)
                {
                    return false;
                }

                _lines[i] = new ConfigLine(FormatSetting(key, value), _lines[i].Terminator);
                return true;
            }
        }

        Add(key, value);
        return true;
    }

    /// <summary>Removes the line at <paramref name="index"/>; a removed bare last line leaves its predecessor bare.</summary>
    public void RemoveAt(int index)
    {
        var removed = _lines[index];
        _lines.RemoveAt(index);
        if (removed.Terminator.Length == 0 && index == _lines.Count && index > 0)
        {
            _lines[index - 1].Terminator = "";
        }
    }

    private string DominantTerminator() =>
        _lines.Count(l => l.Terminator == "\r\n") > _lines.Count(l => l.Terminator == "\n") ? "\r\n" : "\n";

    private static List<ConfigLine> Split(string text)
    {
        var lines = new List<ConfigLine>();
        var start = 0;
        while (start < text.Length)
        {
            var newline = text.IndexOf('\n', start);
            if (newline < 0)
            {
                lines.Add(new ConfigLine(text[start..], ""));
                break;
            }

            var crlf = newline > start && text[newline - 1] == '\r';
            lines.Add(new ConfigLine(text[start..(crlf ? newline - 1 : newline)], crlf ? "\r\n" : "\n"));
            start = newline + 1;
        }

        return lines;
    }
}
