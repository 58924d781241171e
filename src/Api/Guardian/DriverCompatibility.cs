using System.Globalization;
using System.Text.RegularExpressions;
using GpuLxc.Api.Inventory;

namespace GpuLxc.Api.Guardian;

/// <summary>What a compatibility rule found wrong.</summary>
/// <param name="Rule"><c>gpuBranch</c> (the GPU's generation ended before this branch), <c>openModule</c> (open kernel module on a pre-Turing GPU) or <c>kernelFloor</c> (the module does not build for the kernel).</param>
/// <param name="Message">What is wrong, naming the GPU or kernel and the versions.</param>
/// <param name="Fix">What to install instead (for <c>gpuBranch</c>: the last branch that drives the GPU).</param>
/// <param name="Source">The public page the rule comes from.</param>
public sealed record CompatibilityFinding(string Rule, string Message, string Fix, string Source);

/// <summary>A known build break between a kernel series and the R580 driver branch.</summary>
/// <param name="Kernel">The first kernel series (major, minor) the rule applies to; later series inherit it.</param>
/// <param name="Minimum">The first driver version that builds, when one is known.</param>
/// <param name="BrokenUpTo">The last driver version known to fail, when the first good one is not known.</param>
/// <param name="Source">Where the fact was reported.</param>
public sealed record KernelDriverRule((int Major, int Minor) Kernel, string? Minimum, string? BrokenUpTo, string Source);

/// <summary>
/// The rules the host install consults before it starts and diagnostics check the host against: the last driver
/// branch of each GPU generation, open vs proprietary kernel module, and kernel ↔ driver build floors. Facts only
/// where a public source says so: a driver branch or kernel the rules do not know is never refused.
/// </summary>
public static partial class DriverCompatibility
{
    /// <summary>The branch the kernel floors are known for; other branches' floors are not known, and not guessed.</summary>
    public const int FloorBranch = 580;

    /// <summary>Kernel floors of the R580 branch, oldest kernel first.</summary>
    public static IReadOnlyList<KernelDriverRule> KernelRules { get; } =
    [
        // "upgrade nvidia data center driver to 580.105.08, to fix build issue with 6.17 kernel"
        new((6, 17), "580.105.08", null, "https://github.com/open-edge-platform/edge-microvisor-toolkit/pull/567"),
        // dkms install nvidia/580.119.02 on 7.0.9: "Bad return status for module build"
        new((7, 0), null, "580.119.02", "https://github.com/Frogging-Family/nvidia-all/issues/379"),
        // 580.159.04: "Fixed kernel module build issue with Linux kernel v7.1" (NVIDIA's release notes, quoted there)
        new((7, 1), "580.159.04", null, "https://github.com/void-linux/void-packages/issues/61087"),
    ];

    /// <summary>The branch of a driver version: <c>580.105.08</c> → 580; null when it is not version-shaped.</summary>
    public static int? Branch(string? version) =>
        version is not null && BranchPattern().Match(version) is { Success: true } m ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : null;

    /// <summary>
    /// The branch a Debian or Ubuntu driver package name pins: <c>nvidia-driver-590-open</c> → 590,
    /// <c>nvidia-tesla-470-driver</c> → 470, <c>nvidia-legacy-390xx-driver</c> → 390; null for an unversioned name
    /// (<c>nvidia-driver</c>), whose branch is the repository's.
    /// </summary>
    public static int? PackageBranch(string? package) =>
        package is not null && PackageBranchPattern().Match(package) is { Success: true } m ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : null;

    /// <summary>Whether a package name is an open kernel module flavor (<c>nvidia-driver-580-open</c>, <c>nvidia-open-kernel-dkms</c>, <c>nvidia-kernel-open-dkms</c>).</summary>
    public static bool IsOpenPackage(string? package) => package is not null && OpenPackagePattern().IsMatch(package);

    /// <summary>The kernel series of a release: <c>6.17.4-1-pve</c> → (6, 17); null when it does not start with two numbers.</summary>
    public static (int Major, int Minor)? KernelSeries(string? release) =>
        release is not null && KernelSeriesPattern().Match(release) is { Success: true } m
            ? (int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture))
            : null;

    /// <summary>Compares two dotted versions numerically, segment by segment (a missing segment is 0).</summary>
    public static int CompareVersions(string left, string right)
    {
        var a = Numbers(left);
        var b = Numbers(right);
        for (var i = 0; i < Math.Max(a.Count, b.Count); i++)
        {
            var c = (i < a.Count ? a[i] : 0).CompareTo(i < b.Count ? b[i] : 0);
            if (c != 0)
            {
                return c;
            }
        }

        return 0;
    }

    /// <summary>Why driver <paramref name="branch"/> (and <paramref name="open"/> flavor) cannot drive <paramref name="gpus"/>; GPUs given to VMs (vfio-pci) are left out.</summary>
    public static IReadOnlyList<CompatibilityFinding> CheckGpus(IReadOnlyList<Gpu> gpus, int? branch, bool open)
    {
        var findings = new List<CompatibilityFinding>();
        foreach (var gpu in gpus.Where(g => g.KernelDriver != "vfio-pci"))
        {
            var generation = GpuGenerations.FromDeviceId(gpu.DeviceId);
            var name = $"{gpu.PciAddress} ({gpu.Name ?? "device " + gpu.DeviceId}, {generation})";
            if (branch is { } b && GpuGenerations.LastBranch(generation) is { } last && b > last)
            {
                findings.Add(new CompatibilityFinding("gpuBranch",
                    $"{name}: the {generation} generation's last driver branch is {last}; branch {b} does not drive it.",
                    $"Install a {last} driver ({LastBranchPackages(last)}).", LastBranchSource(generation)));
            }

            if (open && GpuGenerations.SupportsOpenModule(generation) == false)
            {
                findings.Add(new CompatibilityFinding("openModule",
                    $"{name}: NVIDIA's open kernel module drives Turing and later GPUs only.",
                    "Install the proprietary kernel module flavor (a package without -open; the .run installer with --kernel-module-type=proprietary).",
                    "https://docs.nvidia.com/datacenter/tesla/driver-installation-guide/kernel-modules.html"));
            }
        }

        return findings;
    }

    /// <summary>Why driver <paramref name="version"/> does not build for kernel <paramref name="kernelRelease"/>; empty when no known rule says so.</summary>
    public static IReadOnlyList<CompatibilityFinding> CheckKernel(string? kernelRelease, string? version)
    {
        if (KernelSeries(kernelRelease) is not { } kernel || version is null || Branch(version) != FloorBranch)
        {
            return [];
        }

        var findings = new List<CompatibilityFinding>();
        foreach (var rule in KernelRules.Where(r => kernel.CompareTo(r.Kernel) >= 0))
        {
            var series = $"{rule.Kernel.Major}.{rule.Kernel.Minor}";
            if (rule.Minimum is { } minimum && CompareVersions(version, minimum) < 0)
            {
                findings.Add(new CompatibilityFinding("kernelFloor", $"Kernel {kernelRelease} (series {series} or later) needs driver {minimum} or later; {version} fails to build.",
                    $"Install {minimum} or a later {FloorBranch} release, or boot a kernel older than {series}.", rule.Source));
            }

            if (rule.BrokenUpTo is { } broken && CompareVersions(version, broken) <= 0)
            {
                findings.Add(new CompatibilityFinding("kernelFloor", $"Kernel {kernelRelease} (series {series} or later): driver {broken} and earlier fail to build; {version} is one of them.",
                    $"Install a {FloorBranch} release after {broken}, or boot a kernel older than {series}.", rule.Source));
            }
        }

        return findings;
    }

    private static string LastBranchPackages(int branch) => branch switch
    {
        390 => "Debian: nvidia-legacy-390xx-driver; Ubuntu: nvidia-driver-390",
        470 => "Debian: nvidia-tesla-470-driver; Ubuntu: nvidia-driver-470",
        _ => $"Ubuntu: nvidia-driver-{branch}; Debian: the {branch} packages, or NVIDIA-Linux-x86_64-{branch}.*.run",
    };

    private static string LastBranchSource(GpuGeneration generation) => generation is GpuGeneration.Fermi or GpuGeneration.Kepler
        ? "https://wccftech.com/nvidia-tretire-kepler-gpu-architecture-geforce-gtx-600-700-series-r470-drivers/"
        : "https://www.neowin.net/amp/nvidia-is-soon-ending-driver-support-for-some-of-its-most-legendary-graphics-cards/";

    private static List<int> Numbers(string version) =>
        version.Split('.').Select(part => int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0).ToList();

    [GeneratedRegex(@"^([0-9]{2,4})\.[0-9]{1,4}(\.[0-9]{1,4})?\z")]
    private static partial Regex BranchPattern();

    [GeneratedRegex(@"^nvidia-(?:[a-z]+-)*?([0-9]{3})(?:xx)?(?:-[a-z]+)*\z")]
    private static partial Regex PackageBranchPattern();

    [GeneratedRegex(@"(?:^nvidia-open-|^nvidia-kernel-open-|-open\z|-open-)")]
    private static partial Regex OpenPackagePattern();

    [GeneratedRegex(@"^([0-9]+)\.([0-9]+)")]
    private static partial Regex KernelSeriesPattern();
}
