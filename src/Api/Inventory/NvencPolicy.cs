using System.Text.RegularExpressions;

namespace GpuLxc.Api.Inventory;

/// <summary>
/// Whether a GPU has NVENC and how many concurrent sessions its driver allows.
/// </summary>
/// <remarks>
/// Consumer cards (GeForce, TITAN) share one budget per machine. The figures, by driver branch: 2 sessions on
/// early drivers (NVIDIA Video Codec SDK licensing note: "limited to 2 per system"); 3 from about 2020; 5 from
/// R530 (March 2023) and 8 from R550 (January 2024), per NVIDIA's Video Encode and Decode GPU Support Matrix, and
/// still 8 through R580; 12 from R590 (its first release, 590.44.01, December 2025, as several public measurements
/// showed). Professional cards are limited only by hardware, except the entry-level models listed
/// in <see cref="ConsumerLimitedProfessionalModels"/>. Data-centre compute GPUs (GA100, GH100) and the GT 1030 have
/// no NVENC at all — although NVML reports an H.264 encoder capacity of 100 on an H100.
/// </remarks>
public static partial class NvencPolicy
{
    private static readonly (int MinimumBranch, int Limit)[] ConsumerLimits = [(590, 12), (550, 8), (530, 5), (440, 3), (0, 2)];

    public static NvencInfo Describe(string? name, string brand, string? deviceId, string? driverVersion, int? limitOverride)
    {
        if (HasNoEncoder(name, deviceId))
        {
            return Build(false, null, NvencLimitSource.None, "none", $"{name ?? "This GPU"} has no NVENC encoder.");
        }

        if (limitOverride is { } configured)
        {
            return Build(true, configured, NvencLimitSource.Override, "host", "GpuLxc:Nvenc:LimitOverride sets the limit.");
        }

        var consumer = brand is "geforce" or "geforceRtx" or "titan" or "titanRtx" ||
                       (brand == "unknown" && name is not null && ConsumerNamePattern().IsMatch(name));
        var limitedProfessional = name is not null && ConsumerLimitedProfessionalModels().IsMatch(name);
        if (!consumer && !limitedProfessional)
        {
            return Build(true, null, NvencLimitSource.None, "none", "Professional GPUs are limited only by encoder capacity.");
        }

        var branch = DriverBranch(driverVersion);
        if (branch is null)
        {
            return Build(true, null, NvencLimitSource.None, "host",
                "The session limit depends on the driver version, which could not be read.");
        }

        var limit = ConsumerLimits.First(entry => branch >= entry.MinimumBranch).Limit;
        return Build(true, limit, limitedProfessional ? NvencLimitSource.Model : NvencLimitSource.DriverTable, "host",
            $"Driver branch R{branch} allows {limit} concurrent sessions per machine on " +
            (limitedProfessional ? "this entry-level professional model." : "consumer GPUs."));
    }

    private static NvencInfo Build(bool supported, int? limit, NvencLimitSource source, string scope, string reason) =>
        new(supported, limit, source, scope, reason, null, null, null, null, []);

    private static int? DriverBranch(string? driverVersion)
    {
        var major = driverVersion?.Split('.')[0];
        return int.TryParse(major, System.Globalization.CultureInfo.InvariantCulture, out var branch) ? branch : null;
    }

    /// <summary>GH100 (0x2300–0x233f) and GA100 (0x20b0–0x20bf, 0x20f0–0x20ff) device ids, or a model name without NVENC.</summary>
    private static bool HasNoEncoder(string? name, string? deviceId)
    {
        if (deviceId is not null && int.TryParse(deviceId, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture, out var id) &&
            id is (>= 0x2300 and <= 0x233f) or (>= 0x20b0 and <= 0x20bf) or (>= 0x20f0 and <= 0x20ff))
        {
            return true;
        }

        return name is not null && NoEncoderModels().IsMatch(name);
    }

    [GeneratedRegex(@"\b(?:A100|A30|A800|H100|H800|H200|H20|GT 1030)\b", RegexOptions.IgnoreCase)]
    private static partial Regex NoEncoderModels();

    [GeneratedRegex(@"\b(?:Quadro (?:P400|P600|P620|P1000)|T400|T600|T1000)\b", RegexOptions.IgnoreCase)]
    private static partial Regex ConsumerLimitedProfessionalModels();

    [GeneratedRegex(@"GeForce|TITAN", RegexOptions.IgnoreCase)]
    private static partial Regex ConsumerNamePattern();
}
