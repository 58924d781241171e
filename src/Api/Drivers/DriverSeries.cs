using System.Text.RegularExpressions;

namespace GpuLxc.Api.Drivers;

/// <summary>
/// The packages of one driver series on Debian. Each series has its own tools: the current series' driver is
/// <c>nvidia-driver</c> with <c>nvidia-smi</c>; a legacy or Tesla series (<c>nvidia-legacy-390xx-driver</c>,
/// <c>nvidia-tesla-470-driver</c>) has <c>nvidia-legacy-390xx-smi</c> / <c>nvidia-tesla-470-smi</c>. The unsuffixed
/// <c>nvidia-smi</c> beside a legacy driver pulls in the current series' driver, which does not support the card.
/// <c>nvidia-modprobe</c> is one package for every series.
/// </summary>
public static partial class DriverSeries
{
    /// <summary>The tools package of <paramref name="driverPackage"/>'s series: <c>nvidia-legacy-390xx-driver</c> → <c>nvidia-legacy-390xx-smi</c>; otherwise <c>nvidia-smi</c>.</summary>
    public static string SmiPackage(string driverPackage) =>
        VariantPattern().Match(driverPackage) is { Success: true } variant ? $"nvidia-{variant.Groups["variant"].Value}-smi" : "nvidia-smi";

    /// <summary>What the host install puts on the host for <paramref name="driverPackage"/>: the driver, its series' nvidia-smi, and nvidia-modprobe.</summary>
    public static IReadOnlyList<string> HostPackages(string driverPackage) => [driverPackage, SmiPackage(driverPackage), "nvidia-modprobe"];

    [GeneratedRegex(@"^nvidia-(?<variant>legacy-[0-9]+xx|tesla(-[0-9]+)?)-driver$")]
    private static partial Regex VariantPattern();
}
