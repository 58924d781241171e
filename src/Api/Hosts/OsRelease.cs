namespace GpuLxc.Api.Hosts;

/// <summary>Parses os-release(5): <c>KEY=value</c> lines, values optionally quoted with shell-style escapes.</summary>
public static class OsRelease
{
    public static IReadOnlyDictionary<string, string> Parse(string text)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var rawLine in text.Split('\n'))
        {
            var line = rawLine.Trim();
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (line.Length == 0 || line.StartsWith('#') || equals <= 0)
            {
                continue;
            }

            values[line[..equals]] = Unquote(line[(equals + 1)..]);
        }

        return values;
    }

    public static OsInfo ToOsInfo(IReadOnlyDictionary<string, string> values) => new(
        values.GetValueOrDefault("ID"),
        values.GetValueOrDefault("VERSION_ID"),
        values.GetValueOrDefault("VERSION_CODENAME"),
        values.GetValueOrDefault("PRETTY_NAME"));

    private static string Unquote(string value)
    {
        if (value.Length < 2 || (value[0] != '"' && value[0] != '\'') || value[^1] != value[0])
        {
            return value;
        }

        var inner = value[1..^1];
        if (value[0] == '\'')
        {
            return inner;
        }

        var result = new System.Text.StringBuilder(inner.Length);
        for (var i = 0; i < inner.Length; i++)
        {
            if (inner[i] == '\\' && i + 1 < inner.Length)
            {
                i++;
            }

            result.Append(inner[i]);
        }

        return result.ToString();
    }
}
