using System.Globalization;

namespace GpuLxc.Api.Guardian;

/// <summary>NVIDIA GPU architectures, oldest first (the order is used: "Turing or later").</summary>
public enum GpuGeneration
{
    Unknown,
    Fermi,
    Kepler,
    Maxwell,
    Pascal,
    Volta,
    Turing,
    Ampere,
    Hopper,
    Ada,
    Blackwell,
}

/// <summary>
/// A GPU's architecture from its PCI device id, and what each architecture's drivers can do. The inventory has the
/// PCI device id of every GPU even with no driver bound (sysfs), which NVML's architecture query would need.
/// </summary>
public static class GpuGenerations
{
    // Device-id ranges of each architecture's chips, as NVIDIA's driver README lists them per chip
    // (Appendix A, "Supported NVIDIA GPU Products":
    // https://download.nvidia.com/XFree86/Linux-x86_64/580.105.08/README/supportedchips.html; the 470 and 390
    // READMEs for Kepler and Fermi).
    private static readonly (int First, int Last, GpuGeneration Generation)[] Ranges =
    [
        (0x06c0, 0x06df, GpuGeneration.Fermi), // GF100
        (0x0dc0, 0x0dff, GpuGeneration.Fermi), // GF106, GF108
        (0x0e00, 0x0e3f, GpuGeneration.Fermi), // GF104
        (0x0f00, 0x0f1f, GpuGeneration.Fermi), // GF108
        (0x0fc0, 0x0fff, GpuGeneration.Kepler), // GK107
        (0x1000, 0x103f, GpuGeneration.Kepler), // GK110, GK210
        (0x1040, 0x109f, GpuGeneration.Fermi), // GF119, GF110
        (0x1140, 0x117f, GpuGeneration.Fermi), // GF117
        (0x1180, 0x11ff, GpuGeneration.Kepler), // GK104, GK106 (GTX 760 = 0x1187)
        (0x1200, 0x125f, GpuGeneration.Fermi), // GF114, GF116
        (0x1280, 0x12bf, GpuGeneration.Kepler), // GK208
        (0x1340, 0x13ff, GpuGeneration.Maxwell), // GM108, GM107, GM204
        (0x1400, 0x143f, GpuGeneration.Maxwell), // GM206
        (0x15f0, 0x15ff, GpuGeneration.Pascal), // GP100
        (0x17c0, 0x17ff, GpuGeneration.Maxwell), // GM200
        (0x1b00, 0x1d7f, GpuGeneration.Pascal), // GP102 … GP108
        (0x1d80, 0x1dbf, GpuGeneration.Volta), // GV100
        (0x1e00, 0x1fff, GpuGeneration.Turing), // TU102, TU104, TU106, TU117
        (0x2080, 0x20ff, GpuGeneration.Ampere), // GA100
        (0x2180, 0x21ff, GpuGeneration.Turing), // TU116
        (0x2200, 0x22ff, GpuGeneration.Ampere), // GA102
        (0x2300, 0x23ff, GpuGeneration.Hopper), // GH100
        (0x2400, 0x25ff, GpuGeneration.Ampere), // GA103 … GA107
        (0x2680, 0x28ff, GpuGeneration.Ada), // AD102 … AD107
        (0x2900, 0x2fff, GpuGeneration.Blackwell), // GB100, GB20x
    ];

    /// <summary>The architecture of PCI device <paramref name="deviceId"/> (hex, with or without <c>0x</c>); <see cref="GpuGeneration.Unknown"/> when no range has it.</summary>
    public static GpuGeneration FromDeviceId(string? deviceId)
    {
        var hex = deviceId?.Trim();
        hex = hex is not null && hex.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? hex[2..] : hex;
        if (!int.TryParse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var id))
        {
            return GpuGeneration.Unknown;
        }

        return Ranges.FirstOrDefault(r => id >= r.First && id <= r.Last).Generation;
    }

    /// <summary>
    /// The last driver branch that drives <paramref name="generation"/>; null while current branches still do.
    /// Fermi ends at R390 and Kepler at R470 (NVIDIA's CUDA and driver support matrix, as reported at
    /// https://wccftech.com/nvidia-tretire-kepler-gpu-architecture-geforce-gtx-600-700-series-r470-drivers/);
    /// Maxwell, Pascal and Volta end at R580 — "The release 580 series will be the last to support GPUs based on the
    /// Maxwell, Pascal, and Volta architectures", NVIDIA's Unix graphics feature deprecation schedule, as reported at
    /// https://www.neowin.net/amp/nvidia-is-soon-ending-driver-support-for-some-of-its-most-legendary-graphics-cards/
    /// (and https://github.com/truenas/scale-build/pull/1002: "580 is also the last branch with full Maxwell/Pascal/Volta support").
    /// </summary>
    public static int? LastBranch(GpuGeneration generation) => generation switch
    {
        GpuGeneration.Fermi => 390,
        GpuGeneration.Kepler => 470,
        GpuGeneration.Maxwell or GpuGeneration.Pascal or GpuGeneration.Volta => 580,
        _ => null,
    };

    /// <summary>
    /// Whether NVIDIA's open kernel modules drive <paramref name="generation"/>: Turing and later only, since they rely
    /// on the GSP that Turing introduced ("Open GPU kernel modules are supported only on Turing and newer
    /// generations": https://docs.nvidia.com/datacenter/tesla/driver-installation-guide/kernel-modules.html). Null when
    /// the generation is unknown.
    /// </summary>
    public static bool? SupportsOpenModule(GpuGeneration generation) =>
        generation == GpuGeneration.Unknown ? null : generation >= GpuGeneration.Turing;
}
