using System.Globalization;
using System.Text.RegularExpressions;

namespace GpuLxc.Api.Inventory;

/// <summary>PCI addresses in one form (<c>0000:00:06.0</c>) whichever tool wrote them (NVML writes <c>00000000:00:06.0</c>).</summary>
public static partial class PciAddress
{
    public static string? Normalize(string? address)
    {
        var match = address is null ? Match.Empty : PciPattern().Match(address.Trim());
        if (!match.Success)
        {
            return null;
        }

        var domain = match.Groups["domain"].Success
            ? uint.Parse(match.Groups["domain"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture)
            : 0;
        var bus = uint.Parse(match.Groups["bus"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        var device = uint.Parse(match.Groups["device"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        return string.Create(CultureInfo.InvariantCulture, $"{domain:x4}:{bus:x2}:{device:x2}.{match.Groups["function"].Value}");
    }

    [GeneratedRegex(@"^(?:(?<domain>[0-9A-Fa-f]{1,8}):)?(?<bus>[0-9A-Fa-f]{2}):(?<device>[0-9A-Fa-f]{2})\.(?<function>[0-7])\z")]
    private static partial Regex PciPattern();
}
