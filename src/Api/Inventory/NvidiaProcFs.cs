using System.Globalization;
using System.Text.RegularExpressions;

namespace GpuLxc.Api.Inventory;

public enum DriverFlavor
{
    Proprietary,
    Open,
}

/// <summary>Parsers for the kernel's text files that describe the NVIDIA driver. Pure functions of the text.</summary>
public static partial class NvidiaProcFs
{
    /// <summary>
    /// The version and flavor in <c>/proc/driver/nvidia/version</c>'s banner, e.g.
    /// <c>NVRM version: NVIDIA UNIX x86_64 Kernel Module  418.152.00  Thu May  7 …</c> or
    /// <c>NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build …</c>.
    /// </summary>
    public static (string Version, DriverFlavor Flavor)? ParseDriverVersion(string text)
    {
        var match = DriverBannerPattern().Match(text);
        if (!match.Success)
        {
            return null;
        }

        return (match.Groups["version"].Value, match.Groups["open"].Success ? DriverFlavor.Open : DriverFlavor.Proprietary);
    }

    /// <summary><c>Key: value</c> lines, as in <c>/proc/driver/nvidia/gpus/&lt;bus&gt;/information</c>.</summary>
    public static IReadOnlyDictionary<string, string> ParseKeyValues(string text)
    {
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in text.Split('\n'))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                values.TryAdd(line[..colon].Trim(), line[(colon + 1)..].Trim());
            }
        }

        return values;
    }

    /// <summary>The character-device section of <c>/proc/devices</c>: name → major. Names may share a major.</summary>
    public static IReadOnlyDictionary<string, uint> ParseCharacterDevices(string text)
    {
        var majors = new Dictionary<string, uint>(StringComparer.Ordinal);
        var inCharacterSection = false;
        foreach (var rawLine in text.Split('\n'))
        {
            var line = rawLine.Trim();
            if (line.EndsWith("devices:", StringComparison.Ordinal))
            {
                inCharacterSection = line.StartsWith("Character", StringComparison.Ordinal);
                continue;
            }

            var space = line.IndexOf(' ', StringComparison.Ordinal);
            if (inCharacterSection && space > 0 &&
                uint.TryParse(line[..space], NumberStyles.None, CultureInfo.InvariantCulture, out var major))
            {
                majors.TryAdd(line[(space + 1)..].Trim(), major);
            }
        }

        return majors;
    }

    /// <summary>The names of the modules listed in <c>/proc/modules</c>.</summary>
    public static IReadOnlySet<string> ParseModules(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ', 2)[0])
            .ToHashSet(StringComparer.Ordinal);

    /// <summary>Module names listed in a modules-load.d file (comments and blank lines skipped).</summary>
    public static IEnumerable<string> ParseModulesLoad(string text) =>
        text.Split('\n')
            .Select(line => line.Split('#', 2)[0].Trim())
            .Where(line => line.Length > 0 && !line.StartsWith(';'));

    [GeneratedRegex(@"NVRM version:.*?(?<open>Open )?Kernel Module(?: for \S+)?\s+(?<version>\d+\.\d+(?:\.\d+)?)")]
    private static partial Regex DriverBannerPattern();
}
